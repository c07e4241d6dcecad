// `docker exec` through the engine's API: the argv taken apart (pure), and (against the real
// engine, `[.engine]`: ctest's docker_api_oracle) the same outputs and exit codes as the CLI's.
#include "docker/engine_exec.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <thread>

#include "core/error.h"
#include "docker/engine_api.h"
#include "tests/cli_host.h"

namespace mig::docker {

TEST_CASE("engine exec: docker exec's argv taken apart, anything else left to the CLI") {
  auto a = ParseDockerExec({"docker", "exec", "-i", "-e", "PGPASSWORD=s3 cret", "-u", "0", "-e", "PGAPPNAME=x=y",
                            "abc123", "psql", "-U", "alice", "-c", "-d"});
  REQUIRE(a);
  CHECK(a->interactive);
  CHECK_FALSE(a->detach);
  CHECK(a->user == "0");
  CHECK(a->env == std::vector<std::string>{"PGPASSWORD=s3 cret", "PGAPPNAME=x=y"});
  CHECK(a->container == "abc123");
  CHECK(a->cmd == std::vector<std::string>{"psql", "-U", "alice", "-c", "-d"});  // the program's own options
  a = ParseDockerExec({"docker", "exec", "-d", "c", "sh", "-c", "x"});
  REQUIRE(a);
  CHECK(a->detach);
  CHECK_FALSE(a->interactive);
  CHECK_FALSE(ParseDockerExec({"docker", "exec", "-it", "c", "sh"}));              // combined: the CLI's
  CHECK_FALSE(ParseDockerExec({"docker", "exec", "-w", "/tmp", "c", "sh"}));       // not carried here
  CHECK_FALSE(ParseDockerExec({"docker", "exec", "-e", "PGPASSWORD", "c", "sh"}));  // from the CLI's environment
  CHECK_FALSE(ParseDockerExec({"docker", "exec", "-e", "=x", "c", "sh"}));
  CHECK_FALSE(ParseDockerExec({"docker", "exec", "c"}));                           // no program
  CHECK_FALSE(ParseDockerExec({"docker", "exec", "-u"}));
  CHECK_FALSE(ParseDockerExec({"docker", "run", "c", "sh"}));
  CHECK_FALSE(ParseDockerExec({"/usr/bin/docker", "exec", "c", "sh"}));
}

namespace {

// Reads a started program's stdout to its end.
std::string ReadAll(Proc& p, uint64_t* bytes = nullptr) {
  std::string out;
  char buf[65536];
  uint64_t total = 0;
  for (size_t n; (n = p.read(buf, sizeof buf)) > 0;) {
    total += n;
    if (!bytes) out.append(buf, n);
  }
  if (bytes) *bytes = total;
  return out;
}

}  // namespace

// Against the real engine (ctest docker_api_oracle, after rig_setup): the CLI is the oracle.
TEST_CASE("engine exec: programs in a container answer as through the docker CLI", "[.engine]") {
  REQUIRE_FALSE(api::SocketFor(ThisHost()).empty());
  const ExecHost api(ThisHost());
  const CliHost cli;
  const std::string c = "migtestexec_" + std::to_string(::getpid());
  const std::string stopped = c + "_stopped";
  ThisHost().Run({"docker", "rm", "-f", c, stopped});
  REQUIRE(ThisHost().Run({"docker", "run", "-d", "--network", "none", "--name", c, "migrate-test/busybox:1", "sleep",
                          "600"}).ok());
  REQUIRE(ThisHost().Run({"docker", "create", "--name", stopped, "migrate-test/busybox:1", "true"}).ok());

  const auto same = [&](const std::vector<std::string>& argv, const std::string& input = {}) {
    const ProcResult by_api = api.Run(argv, input, std::chrono::seconds(60));
    const ProcResult by_cli = cli.Run(argv, input, std::chrono::seconds(60));
    INFO(CommandLine(argv) + "\nAPI: " + std::to_string(by_api.code) + " [" + by_api.out + "] [" + by_api.err +
         "]\nCLI: " + std::to_string(by_cli.code) + " [" + by_cli.out + "] [" + by_cli.err + "]");
    CHECK(by_api.code == by_cli.code);
    CHECK(by_api.out == by_cli.out);
    CHECK(by_api.err == by_cli.err);
    return by_api;
  };
  CHECK(same({"docker", "exec", c, "sh", "-c", "echo out; echo err >&2; exit 3"}).code == 3);
  CHECK(same({"docker", "exec", "-i", c, "cat"}, "hello\nworld").out == "hello\nworld");
  CHECK(same({"docker", "exec", c, "cat"}, "not passed without -i").out.empty());
  const std::string big(8 << 20, 'x');
  CHECK(same({"docker", "exec", "-i", c, "sh", "-c", "wc -c; echo done >&2"}, big).out.find("8388608") !=
        std::string::npos);
  CHECK(same({"docker", "exec", "-e", "A=one two", "-u", "1000", c, "sh", "-c", "echo \"$A\" $(id -u)"}).out ==
        "one two 1000\n");
  CHECK(same({"docker", "exec", c, "no-such-program"}).code != 0);
  CHECK(same({"docker", "exec", stopped, "true"}).code == 1);
  CHECK(same({"docker", "exec", c + "_none", "true"}).code == 1);
  // -d: started, not waited for.
  CHECK(same({"docker", "exec", "-d", c, "sh", "-c", "echo d > /tmp/detached"}).code == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(api.Run({"docker", "exec", c, "cat", "/tmp/detached"}).out == "d\n");

  // Started: 64 MiB out, 8 MiB of stderr while stdout is read, and a stderr flood nobody reads.
  {
    auto p = api.Start({"docker", "exec", c, "sh", "-c", "head -c 67108864 /dev/zero; head -c 8388608 /dev/zero >&2"},
                       Proc::kStdout);
    uint64_t bytes = 0;
    ReadAll(*p, &bytes);
    CHECK(bytes == 64u << 20);
    CHECK(p->wait() == 0);
    CHECK(p->err_text().size() == 1u << 20);  // the last MiB kept
  }
  {
    auto p = api.Start({"docker", "exec", "-i", c, "sh", "-c", "head -c 8388608 /dev/zero >&2; cat > /tmp/in; echo x >&2"},
                       Proc::kStdin);
    p->write(std::string(1 << 20, 'y'));
    p->close_stdin();
    CHECK(p->wait() == 0);
    CHECK(api.Run({"docker", "exec", c, "wc", "-c", "/tmp/in"}).out.find("1048576") != std::string::npos);
  }
  // A session: questions and answers on one connection.
  {
    auto p = api.Start({"docker", "exec", "-i", c, "sh"}, Proc::kStdin | Proc::kStdout);
    std::string line;
    p->write("echo first\n");
    REQUIRE(p->read_line(line));
    CHECK(line == "first");
    p->write("echo second; exit 4\n");
    REQUIRE(p->read_line(line));
    CHECK(line == "second");
    CHECK_FALSE(p->read_line(line));
    CHECK(p->wait() == 4);
  }
  // kill(): the reader returns; the program in the container is killed where we may (root), not
  // left blocked on its output as the CLI leaves it.
  {
    auto p = api.Start({"docker", "exec", c, "sh", "-c", "while :; do echo migtest-killed-loop; done"}, Proc::kStdout);
    char buf[4096];
    CHECK(p->read(buf, sizeof buf) > 0);
    p->kill();
    ReadAll(*p);
    CHECK(p->wait() != 0);
    bool gone = false;
    for (int i = 0; i < 50 && !gone; ++i) {
      gone = api.Run({"docker", "exec", c, "ps"}).out.find("migtest-killed-loop") == std::string::npos;
      if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (::geteuid() == 0) CHECK(gone);
  }
  // kill() while nobody reads stdout any more, then wait(): no hang (Relay's and Abort's order).
  {
    auto p = api.Start({"docker", "exec", c, "sh", "-c", "while :; do echo migtest-unread-loop; done"}, Proc::kStdout);
    char buf[16];
    CHECK(p->read(buf, sizeof buf) > 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the socket pair fills meanwhile
    p->kill();
    CHECK(p->wait() != 0);
  }
  // -i asked without our stdin: the program's is empty, as with the CLI.
  {
    auto p = api.Start({"docker", "exec", "-i", c, "cat"}, Proc::kStdout);
    CHECK(ReadAll(*p).empty());
    CHECK(p->wait() == 0);
  }
  // write() then wait(): wait closes stdin first, as Child::wait does.
  {
    auto p = api.Start({"docker", "exec", "-i", c, "sh", "-c", "cat > /tmp/waited"}, Proc::kStdin);
    p->write("kept\n");
    CHECK(p->wait() == 0);
    CHECK(api.Run({"docker", "exec", c, "cat", "/tmp/waited"}).out == "kept\n");
  }
  // A run past its time fails as RunCapture's does.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(api.Run({"docker", "exec", c, "sleep", "30"}, {}, std::chrono::seconds(1)),
                    Catch::Contains("did not finish within 1 s"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
  // An interrupted command (core/interrupt.h): its open connections are shut down.
  {
    auto p = api.Start({"docker", "exec", c, "sleep", "30"}, Proc::kStdout);
    const auto t1 = std::chrono::steady_clock::now();
    std::thread stop([] {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      TerminateChildren(SIGTERM);
    });
    char buf[16];
    CHECK(p->read(buf, sizeof buf) == 0);
    stop.join();
    CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::seconds(10));
  }
  ThisHost().Run({"docker", "rm", "-f", c, stopped});
}

}  // namespace mig::docker
