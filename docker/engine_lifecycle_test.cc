// `docker start` / `docker stop` through the engine's API: the argv taken apart (pure), and
// (against the real engine, `[.engine]`: ctest's docker_api_oracle) the same outputs, exit codes
// and container states as through the CLI.
#include "docker/engine_lifecycle.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/text.h"
#include "docker/engine_api.h"
#include "docker/engine_exec.h"
#include "tests/cli_host.h"

namespace mig::docker {

TEST_CASE("engine lifecycle: docker start and stop taken apart, anything else left to the CLI") {
  auto a = ParseDockerLifecycle({"docker", "stop", "-t", "60", "abc", "def"});
  REQUIRE(a);
  CHECK(a->stop);
  CHECK(a->grace == 60);
  CHECK(a->containers == std::vector<std::string>{"abc", "def"});
  a = ParseDockerLifecycle({"docker", "stop", "abc"});
  REQUIRE(a);
  CHECK_FALSE(a->grace);
  a = ParseDockerLifecycle({"docker", "start", "abc"});
  REQUIRE(a);
  CHECK_FALSE(a->stop);
  CHECK(a->containers == std::vector<std::string>{"abc"});
  CHECK(ParseDockerLifecycle({"docker", "stop", "--time", "0", "abc"})->grace == 0);
  CHECK_FALSE(ParseDockerLifecycle({"docker", "start", "-a", "abc"}));            // attached: the CLI's
  CHECK_FALSE(ParseDockerLifecycle({"docker", "start", "-t", "5", "abc"}));       // start has no -t
  CHECK_FALSE(ParseDockerLifecycle({"docker", "stop", "-s", "KILL", "abc"}));     // a signal: the CLI's
  CHECK_FALSE(ParseDockerLifecycle({"docker", "stop", "-t", "-1", "abc"}));
  CHECK_FALSE(ParseDockerLifecycle({"docker", "stop", "-t", "abc"}));            // no container left
  CHECK_FALSE(ParseDockerLifecycle({"docker", "stop", "-t"}));
  CHECK_FALSE(ParseDockerLifecycle({"docker", "stop"}));
  CHECK_FALSE(ParseDockerLifecycle({"docker", "stop", "abc", ""}));
  CHECK_FALSE(ParseDockerLifecycle({"docker", "restart", "abc"}));
  CHECK_FALSE(ParseDockerLifecycle({"/usr/bin/docker", "stop", "abc"}));
}

// Against the real engine (ctest docker_api_oracle, after rig_setup): the CLI is the oracle.
TEST_CASE("engine lifecycle: containers start and stop as through the docker CLI", "[.engine]") {
  REQUIRE_FALSE(api::SocketFor(ThisHost()).empty());
  const ExecHost api(ThisHost());
  const CliHost cli;
  const std::string c = "migtestlife_" + std::to_string(::getpid());
  const std::string d = c + "_d";
  const std::string none = c + "_none";
  ThisHost().Run({"docker", "rm", "-f", c, d});
  // sleep as PID 1 ignores SIGTERM: a stop waits out its -t, then kills.
  for (const auto& name : {c, d})
    REQUIRE(ThisHost().Run({"docker", "create", "--network", "none", "--name", name, "migrate-test/busybox:1", "sleep",
                            "600"}).ok());
  const auto running = [](const std::string& name) {
    return TrimEnd(ThisHost().Run({"docker", "inspect", "-f", "{{.State.Running}}", name}).out) == "true";
  };
  // The same argv through the API, then (with the containers put back as they were) the CLI.
  const auto same = [&](const std::vector<std::string>& argv, const std::function<void()>& reset) {
    const ProcResult by_api = api.Run(argv, {}, std::chrono::seconds(60));
    const bool c_api = running(c), d_api = running(d);
    reset();
    const ProcResult by_cli = cli.Run(argv, {}, std::chrono::seconds(60));
    INFO(CommandLine(argv) + "\nAPI: " + std::to_string(by_api.code) + " [" + by_api.out + "] [" + by_api.err +
         "]\nCLI: " + std::to_string(by_cli.code) + " [" + by_cli.out + "] [" + by_cli.err + "]");
    CHECK(by_api.code == by_cli.code);
    CHECK(by_api.out == by_cli.out);
    CHECK(c_api == running(c));
    CHECK(d_api == running(d));
    CHECK(by_api.err == by_cli.err);
    return by_api;
  };
  const auto stop_both = [&] { ThisHost().Run({"docker", "stop", "-t", "0", c, d}); };
  const auto start_both = [&] { ThisHost().Run({"docker", "start", c, d}); };

  CHECK(same({"docker", "start", c, d}, stop_both).code == 0);
  CHECK((running(c) && running(d)));
  CHECK(same({"docker", "start", c}, [] {}).code == 0);  // already running: fine, as the CLI
  CHECK(same({"docker", "stop", "-t", "1", c, d}, start_both).code == 0);
  CHECK(!running(c));
  CHECK(same({"docker", "stop", c}, [] {}).code == 0);  // already stopped
  CHECK(same({"docker", "start", none}, [] {}).code == 1);
  CHECK(same({"docker", "stop", none}, [] {}).code == 1);
  CHECK(same({"docker", "start", c, none, d}, stop_both).code == 1);  // the others started
  CHECK(same({"docker", "stop", "-t", "0", c, none}, start_both).code == 1);
  // A stop that waits out its grace: the request is not cut at http's usual 30 s limit by a
  // shorter one of its own.
  start_both();
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(api.Run({"docker", "stop", "-t", "2", c}, {}, std::chrono::seconds(30)).code == 0);
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(2));
  CHECK(!running(c));
  // A run's own limit shorter than the grace: it fails naming the command, as RunCapture does.
  ThisHost().Run({"docker", "start", c});
  CHECK_THROWS_WITH(api.Run({"docker", "stop", "-t", "20", c}, {}, std::chrono::seconds(1)),
                    Catch::Contains("did not finish within 1 s"));
  ThisHost().Run({"docker", "rm", "-f", c, d});
}

}  // namespace mig::docker
