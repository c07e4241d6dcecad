// What exec channels share: how a remote command ended, and its outputs within bounds.
#include "ssh/channel.h"

#include <catch2/catch.hpp>

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

}  // namespace mig::ssh
