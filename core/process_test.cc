// Running programs: the environment a program is given, and how its failure reads.
#include "core/process.h"

#include <catch2/catch.hpp>
#include <cstdlib>

namespace mig {

TEST_CASE("a program gets the variables added to its environment, empty ones included") {
  ::setenv("MIGRATE_PROCESS_TEST_KEPT", "kept", 1);
  ProcResult r = RunCapture({"/bin/sh", "-c", "echo \"$A|${B-unset}|$MIGRATE_PROCESS_TEST_KEPT\""}, {},
                            std::chrono::seconds(10), {{"A", "one two"}, {"B", ""}});
  ::unsetenv("MIGRATE_PROCESS_TEST_KEPT");
  CHECK(r.ok());
  CHECK(r.out == "one two||kept\n");
}

TEST_CASE("a failing program's error tail is its last stderr lines") {
  ProcResult r = RunCapture({"/bin/sh", "-c", "echo out; echo one >&2; echo >&2; echo two >&2; exit 3"});
  CHECK(r.code == 3);
  CHECK(r.error_tail() == "one; two");
  CHECK(r.error_tail(1) == "two");
}

TEST_CASE("programs are found on PATH or by path") {
  CHECK(ProgramExists("sh"));
  CHECK(ProgramExists("/bin/sh"));
  CHECK_FALSE(ProgramExists("migrate-no-such-program"));
}

TEST_CASE("CommandLine is read back by a shell as the same arguments") {
  const std::vector<std::string> argv = {"plain", "two words", "it's", "'", "$HOME", "`id`", "a;b|c&d", "<in>", "*",
                                         "{{json .}}", "x\ny", "", "--opt=v@h:1,2/3%"};
  ProcResult r = RunCapture({"sh", "-c", "printf '%s\\0' " + CommandLine(argv)});
  REQUIRE(r.ok());
  std::vector<std::string> back;
  std::string cur;
  for (char c : r.out) {
    if (c == '\0') back.push_back(std::move(cur)), cur.clear();
    else cur += c;
  }
  CHECK(back == argv);
  CHECK(CommandLine({"docker", "stop", "a-b_1"}) == "docker stop a-b_1");
}

}  // namespace mig

TEST_CASE("a program inherits no descriptor of another program's pipes (concurrent starts cannot wait on each other)") {
  // A program whose stdin we hold open, as a psql session or a probe on another thread does.
  mig::Child held({"cat"}, mig::Proc::kStdin | mig::Proc::kStdout);
  mig::ProcResult r = mig::RunCapture({"sh", "-c", "ls /proc/self/fd"});
  REQUIRE(r.ok());
  // ls sees its own 0, 1, 2 and the folder it reads: nothing of `held`'s pipes.
  std::istringstream in(r.out);
  std::string fd;
  std::vector<std::string> fds;
  while (in >> fd) fds.push_back(fd);
  CHECK(fds.size() <= 4);
  held.close_stdin();
  char buf[16];
  CHECK(held.read(buf, sizeof buf) == 0);  // cat saw end of file: nobody else holds its stdin
  CHECK(held.wait() == 0);
}

TEST_CASE("a started program's stderr is kept in a file with no name, read back whole") {
  // Killed with -9, we leave nothing behind in /tmp: the file never had a name there.
  mig::Child child({"sh", "-c", "readlink /proc/$$/fd/2 >&2; head -c 100000 /dev/zero >&2"},
                   mig::Proc::kStdout);
  char buf[16];
  CHECK(child.read(buf, sizeof buf) == 0);
  CHECK(child.wait() == 0);
  const std::string err = child.err_text();
  const std::string first = err.substr(0, err.find('\n'));
  CHECK(first.rfind("/tmp/", 0) == 0);
  CHECK(first.find("(deleted)") != std::string::npos);
  CHECK(err.size() == first.size() + 1 + 100000);
}
