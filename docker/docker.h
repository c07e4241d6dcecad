// The docker engine and compose, driven through their command-line tools.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::docker {

// Which compose a host has: the v2 plugin (`docker compose`) or v1 (`docker-compose`).
struct ComposeTool {
  std::vector<std::string> argv;  // {"docker", "compose"} or {"docker-compose"}
  std::string version;
};

// What `docker version` answered: the server version, or the line saying why the engine did
// not answer (error empty on success).
struct EngineAnswer {
  std::string version;
  std::string error;
};
// Asks the engine for its version; never throws for an engine that does not answer, only
// when the docker client cannot be started.
EngineAnswer ProbeEngine(const Host& host = ThisHost());
// The engine's server version; throws mig::Error with what to do when it does not answer.
// `host`: where the engine runs (this machine, or the old server over SSH).
std::string EngineVersion(const Host& host = ThisHost());
// What to do when the engine does not answer.
extern const char* const kEngineFix;
// Detects compose; throws when neither answers.
ComposeTool DetectCompose(const Host& host = ThisHost());

// One container of a compose project, as `docker ps` shows it.
struct Container {
  std::string id, name, service, state, status;  // state: running, exited...; status: "Up 3s (healthy)"
  bool oneoff = false;  // made by `compose run`
  bool running() const { return state == "running"; }
  bool healthy_or_no_check() const;
  bool unhealthy() const;
};

// A release's compose stack under its project name. Holds a reference to `host` (where compose
// runs): the Host must outlive the Stack. Thread-compatible: const methods only run programs.
class Stack {
 public:
  Stack(ComposeTool tool, std::string dir, std::string file, std::string project, const Host& host = ThisHost())
      : tool_(std::move(tool)), dir_(std::move(dir)), file_(std::move(file)), project_(std::move(project)),
        host_(&host) {}
  const Host& host() const { return *host_; }

  const std::string& project() const { return project_; }
  // compose ... -p project -f file --project-directory dir <args>
  std::vector<std::string> Command(const std::vector<std::string>& args) const;
  // Runs a compose command; throws mig::Error with compose's last error line on failure.
  void Run(const std::vector<std::string>& args, std::chrono::seconds timeout) const;
  void Up(const std::vector<std::string>& services = {}) const;
  // Makes the services' containers without starting them or their dependencies (compose up
  // --no-start --no-deps): compose's work done ahead, for Start.
  void Create(const std::vector<std::string>& services) const;
  // Starts the services' stopped containers (one docker start, in the order given); false,
  // starting nothing, when one of them has no container (compose up must make it).
  bool Start(const std::vector<std::string>& services) const;
  // Stops the services' running containers at once, each with its own stop signal and grace
  // period (docker stop; see docker.cc). Nothing to stop is not an error.
  void Stop(const std::vector<std::string>& services) const;
  // The project's containers (all states).
  std::vector<Container> Containers() const;
  // The name of the running container of `service`, or "" when there is none.
  std::string RunningContainer(const std::string& service) const;
  // Waits until every listed service has a running (and, with a health check, healthy)
  // container. Throws with the services still waiting when `timeout` passes.
  void WaitUp(const std::vector<std::string>& services, std::chrono::seconds timeout) const;

 private:
  ComposeTool tool_;
  std::string dir_, file_, project_;
  const Host* host_;
};

// The containers (all states) of compose project `project`.
std::vector<Container> ProjectContainers(const std::string& project, const Host& host = ThisHost());
// The name of the running container of `service` among `containers`, or "" when none runs.
std::string RunningContainer(const std::vector<Container>& containers, const std::string& service);

// The compose project whose containers were started from `dir` (label
// com.docker.compose.project.working_dir), or "" when none was.
std::string ProjectStartedFrom(const std::string& dir, const Host& host = ThisHost());

// The names of the engine's volumes (`docker volume ls`). Throws mig::Error when docker fails.
std::vector<std::string> VolumeNames(const Host& host = ThisHost());

// Containers (of any project) that publish host port `port`: "name (project/service)".
std::vector<std::string> ContainersPublishing(int port, const std::string& except_project);

}  // namespace mig::docker
