// What exec channels share: how a remote command ended, and its outputs within bounds.
#include "ssh/channel.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/process.h"

namespace mig::ssh {

TEST_CASE("channel: stdout is kept whole up to its bound, and refused past it") {
  std::string out;
  CHECK(AppendWithin(out, "abc", 3, 5));
  CHECK(AppendWithin(out, "de", 2, 5));
  CHECK_FALSE(AppendWithin(out, "f", 1, 5));
  CHECK(out == "abcde");
  std::string big;
  CHECK_FALSE(AppendWithin(big, "abcdef", 6, 5));
  CHECK(big.empty());
  // A 3 MiB answer arrives whole (it used to be cut to its last MiB).
  std::string chunk(64 << 10, 'x');
  std::string file;
  for (int i = 0; i < 48; ++i) REQUIRE(AppendWithin(file, chunk.data(), chunk.size(), (4 << 20) + 1));
  CHECK(file.size() == (3u << 20));
}

TEST_CASE("channel: stderr keeps its end") {
  std::string err;
  std::string chunk(kStderrTail, 'a');
  KeepTail(err, chunk.data(), chunk.size());
  KeepTail(err, chunk.data(), chunk.size());
  KeepTail(err, "the end", 7);
  CHECK(err.size() <= 2 * kStderrTail);
  CHECK(err.size() >= kStderrTail);
  CHECK(err.substr(err.size() - 7) == "the end");
}

TEST_CASE("channel: an exit status counts only when the channel closed and no signal came") {
  Ending done{true, 3, ""};
  CHECK(done.exited());
  CHECK(done.code() == 3);
  CHECK(done.Describe() == "exited with status 3");

  Ending killed{true, 0, "KILL"};
  CHECK_FALSE(killed.exited());
  CHECK(killed.code() == 137);
  CHECK(killed.Describe() == "was killed by signal KILL");
  CHECK(Ending{true, 0, "TERM"}.code() == 143);
  CHECK(Ending{true, 0, "XCPU"}.code() == 255);

  Ending lost{false, 0, ""};  // libssh2 says 0 when no exit-status came: not a success
  CHECK_FALSE(lost.exited());
  CHECK(lost.code() != 0);
  CHECK(lost.Describe().find("without reporting an exit status") != std::string::npos);
}

TEST_CASE("channel: a command reaches /bin/sh alike through sh, bash, dash, fish and tcsh") {
  // What sshd does: LOGIN_SHELL -c COMMAND. Each command prints its words between bars.
  const std::vector<std::string> commands = {
      R"sh(printf '%s|' a 'b c' "d e" "$HOME")sh",
      R"sh(printf '%s|' 'it'\''s' 'back\slash' 'two\\ and \' '!x' a!b '$(no)' '`no`' '*' \\)sh",
      R"sh(if [ -d / ]; then printf '%s|' "$(echo yes)"; fi; echo "$((1 + 2))")sh",
  };
  std::vector<std::string> shells;
  for (const char* sh : {"/bin/sh", "/bin/bash", "/bin/dash", "/usr/bin/fish", "/usr/bin/tcsh"})
    if (::access(sh, X_OK) == 0) shells.push_back(sh);
  for (const auto& cmd : commands) {
    const ProcResult want = RunCapture({"/bin/sh", "-c", cmd});
    REQUIRE(want.code == 0);
    REQUIRE(!want.out.empty());
    const std::string wrapped = ForAnyLoginShell(cmd);
    CHECK(wrapped.rfind("exec /bin/sh -c '", 0) == 0);
    for (const auto& sh : shells) {
      INFO(sh << " -c " << wrapped << "\nwant: " << want.out);
      const ProcResult got = RunCapture({sh, "-c", wrapped});
      CHECK(got.code == 0);
      CHECK(got.out == want.out);
    }
  }
  CHECK(ForAnyLoginShell("echo a\necho b") == "echo a\necho b");  // csh cannot quote a newline
}

}  // namespace mig::ssh
