// The engine's API in place of the docker CLI: which socket the CLI would use, and (against the
// real engine, `[.engine]`: ctest's docker_api_oracle) the same answers as the CLI's.
#include "docker/engine_api.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "core/files.h"
#include "core/text.h"
#include "docker/docker.h"
#include "docker/swarm.h"
#include "tests/cli_host.h"

namespace mig::docker {

namespace {

// Sets (or, with nullopt, unsets) an environment variable for the life of this object.
class EnvFor {
 public:
  EnvFor(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value->c_str(), 1);
    else ::unsetenv(name);
  }
  ~EnvFor() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// A listening unix socket at `path` (its file is what SocketFromEnvironment looks at).
struct ListeningSocket {
  int fd = -1;
  explicit ListeningSocket(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path.copy(a.sun_path, sizeof(a.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0);
    ::listen(fd, 1);
  }
  ~ListeningSocket() { ::close(fd); }
};

}  // namespace

TEST_CASE("engine api: the socket is the one the docker CLI would use, or none") {
  TempDir dir("engine-api-test");
  const std::string sock = dir.path() + "/docker.sock";
  ListeningSocket listening(sock);
  EnvFor config("DOCKER_CONFIG", dir.path() + "/config");
  EnvFor context("DOCKER_CONTEXT", std::nullopt);
  {
    EnvFor host("DOCKER_HOST", "unix://" + sock);
    CHECK(api::SocketFromEnvironment() == sock);
    EnvFor chosen("DOCKER_CONTEXT", std::string("remote"));
    CHECK(api::SocketFromEnvironment().empty());  // the CLI is left to decide (DOCKER_HOST wins there)
  }
  {
    EnvFor host("DOCKER_HOST", std::string("tcp://127.0.0.1:2375"));
    CHECK(api::SocketFromEnvironment().empty());
  }
  {
    EnvFor host("DOCKER_HOST", "unix://" + dir.path() + "/missing.sock");
    CHECK(api::SocketFromEnvironment().empty());
  }
  {
    EnvFor host("DOCKER_HOST", "unix://" + dir.path());  // a folder, not a socket
    CHECK(api::SocketFromEnvironment().empty());
  }
  {
    EnvFor host("DOCKER_HOST", std::nullopt);
    ::mkdir((dir.path() + "/config").c_str(), 0700);
    std::ofstream(dir.path() + "/config/config.json") << R"({"currentContext": "swarm-prod"})";
    CHECK(api::SocketFromEnvironment().empty());
    std::ofstream(dir.path() + "/config/config.json") << R"({"currentContext": "default"})";
    struct stat st;
    const bool usable = ::stat("/var/run/docker.sock", &st) == 0 && S_ISSOCK(st.st_mode) &&
                        ::access("/var/run/docker.sock", R_OK | W_OK) == 0;
    CHECK(api::SocketFromEnvironment() == (usable ? "/var/run/docker.sock" : ""));
    EnvFor off("MIGRATE_DOCKER_API", std::string("0"));  // the recorder's: programs only
    CHECK(api::SocketFromEnvironment().empty());
  }
}

TEST_CASE("engine api: a host answering from a recording is never asked through the socket") {
  CliHost cli;
  CHECK(api::SocketFor(cli).empty());
  CHECK_FALSE(api::Get(cli, "/version").has_value());
}

// Against the real engine (ctest docker_api_oracle, after rig_setup): each question the API
// answers gets the answer the docker CLI gives, on containers made for it.
TEST_CASE("engine api: the engine's answers equal the docker CLI's", "[.engine]") {
  REQUIRE_FALSE(api::SocketFor(ThisHost()).empty());
  CliHost cli;
  const std::string project = "migtestapi";
  const auto docker = [](std::vector<std::string> argv) {
    argv.insert(argv.begin(), "docker");
    ProcResult r = ThisHost().Run(argv, {}, std::chrono::seconds(60));
    INFO(CommandLine(argv) + ": " + r.err);
    REQUIRE(r.ok());
    return r.out;
  };
  const std::string port = std::to_string(20000 + ::getpid() % 5000);
  const std::vector<std::string> labels = {"--label", "com.docker.compose.project=" + project, "--label",
                                           "com.docker.compose.project.working_dir=/tmp/" + project};
  const std::vector<std::string> remove = {"docker", "rm", "-f", project + "_web_1", project + "_db_1",
                                           project + "_web_run_1", project + "_app_1"};
  ThisHost().Run(remove);
  ThisHost().Run({"docker", "volume", "rm", "-f", project + "_data"});
  std::vector<std::string> web = {"run", "-d", "--name", project + "_web_1", "--label", "com.docker.compose.service=web",
                                  "--label", "com.docker.compose.config-hash=0123abcd", "-p", "127.0.0.1:" + port + ":80"};
  web.insert(web.end(), labels.begin(), labels.end());
  web.insert(web.end(), {"migrate-test/busybox:1", "sleep", "300"});
  docker(web);
  std::vector<std::string> db = {"create", "--name", project + "_db_1", "--label", "com.docker.compose.service=db"};
  db.insert(db.end(), labels.begin(), labels.end());
  db.insert(db.end(), {"migrate-test/busybox:1", "true"});
  docker(db);
  std::vector<std::string> oneoff = {"create", "--name", project + "_web_run_1", "--label",
                                     "com.docker.compose.service=web", "--label", "com.docker.compose.oneoff=True"};
  oneoff.insert(oneoff.end(), labels.begin(), labels.end());
  oneoff.insert(oneoff.end(), {"migrate-test/busybox:1", "true"});
  docker(oneoff);
  // A legacy link: the engine lists "/migtestapi_app_1/db" among web's names (first, sorted).
  std::vector<std::string> app = {"run", "-d", "--name", project + "_app_1", "--label", "com.docker.compose.service=app",
                                  "--link", project + "_web_1:db"};
  app.insert(app.end(), labels.begin(), labels.end());
  app.insert(app.end(), {"migrate-test/busybox:1", "sleep", "300"});
  docker(app);
  docker({"volume", "create", project + "_data"});

  // The status without its time ("Up 2 seconds" becomes "Up" between the two questions).
  const auto shown = [](const std::vector<Container>& cs) {
    std::vector<std::string> out;
    for (const auto& c : cs) {
      const std::string status = c.status.substr(0, c.status.find(' ')) +
                                 (c.status.find('(') == std::string::npos ? "" : c.status.substr(c.status.find('(')));
      out.push_back(c.id + " " + c.name + " " + c.service + " " + c.state + " " + status + " " +
                    (c.oneoff ? "oneoff" : "-") + " " + c.config_hash);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::vector<Container> by_api = ProjectContainers(project, ThisHost());
  CHECK(by_api.size() == 4);
  CHECK(shown(by_api) == shown(ProjectContainers(project, cli)));
  CHECK(RunningContainer(by_api, "web") == project + "_web_1");
  // The image a container was made from (the API's alone: docker ps shows its name), and the
  // id its name gives now.
  const std::string busybox = TrimEnd(docker({"image", "inspect", "-f", "{{.Id}}", "migrate-test/busybox:1"}));
  CHECK(ImageId("migrate-test/busybox:1", ThisHost()) == busybox);
  CHECK(ImageId("migrate-test/no-such-image:0", ThisHost()).empty());
  CHECK(ImageId("migrate-test/busybox:1", cli).empty());
  for (const auto& c : by_api) {
    CHECK(c.image_id == busybox);
    if (c.service == "web" && !c.oneoff) CHECK(c.config_hash == "0123abcd");
  }
  // docker info's Swarm part.
  const SwarmInfo swarm_api = ProbeSwarm(ThisHost()), swarm_cli = ProbeSwarm(cli);
  CHECK(swarm_api.state == swarm_cli.state);
  CHECK_FALSE(swarm_api.state.empty());
  CHECK(swarm_api.active == swarm_cli.active);
  CHECK(swarm_api.manager == swarm_cli.manager);
  CHECK(swarm_api.node_id == swarm_cli.node_id);
  CHECK(ProbeEngine(ThisHost()).version == ProbeEngine(cli).version);
  CHECK_FALSE(ProbeEngine(ThisHost()).version.empty());
  CHECK(ProjectStartedFrom("/tmp/" + project, ThisHost()) == project);
  CHECK(ProjectStartedFrom("/tmp/" + project, cli) == project);
  CHECK(ProjectStartedFrom("/tmp/" + project + "-none", ThisHost()).empty());
  // Other suites make and remove volumes meanwhile: this test's own, and the whole list's order.
  const auto own = [&project](std::vector<std::string> names) {
    names.erase(std::remove_if(names.begin(), names.end(),
                               [&project](const std::string& n) { return n.rfind(project, 0) != 0; }),
                names.end());
    return names;
  };
  const std::vector<std::string> volumes = VolumeNames(ThisHost());
  CHECK(std::is_sorted(volumes.begin(), volumes.end()));
  CHECK(own(volumes) == std::vector<std::string>{project + "_data"});
  CHECK(own(volumes) == own(VolumeNames(cli)));
  CHECK(RootDir(ThisHost()) == RootDir(cli));
  CHECK_FALSE(RootDir(ThisHost()).empty());
  const std::vector<std::string> publishing = ContainersPublishing(std::stoi(port), "someone-else");
  CHECK(publishing == std::vector<std::string>{project + "_web_1 (project " + project + ", service web)"});
  CHECK(ContainersPublishing(std::stoi(port), project).empty());
  ThisHost().Run(remove);
  ThisHost().Run({"docker", "volume", "rm", "-f", project + "_data"});
}

}  // namespace mig::docker
