// The docker engine and compose: compose through its command-line tool; the engine through its
// API on this machine (docker/engine_api.h), else the docker CLI.
#pragma once

#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compose/compose.h"
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
// The programs ProbeEngine (through the CLI), DetectCompose (on another server) and
// ProjectStartedFrom (through the CLI) run: asked ahead by the caller where that saves round
// trips (core/prefetch_host.h).
std::vector<std::string> EngineVersionArgv();
std::vector<std::string> RemoteComposeProbeArgv();
std::vector<std::string> ProjectStartedFromArgv(const std::string& dir);

// One container of a compose project, as `docker ps` shows it.
struct Container {
  std::string id, name, service, state, status;  // state: running, exited...; status: "Up 3s (healthy)"
  bool oneoff = false;  // made by `compose run`
  std::string config_hash;  // label com.docker.compose.config-hash: what compose made it from
  std::string image_id;     // the image it was made from ("sha256:..."; "" where the CLI was asked)
  bool running() const { return state == "running"; }
  bool healthy_or_no_check() const;
  bool unhealthy() const;
};

// A release's compose stack under its project name. Holds a reference to `host` (where compose
// runs): the Host must outlive the Stack. Thread-compatible: const methods only run programs.
class Stack {
 public:
  Stack(ComposeTool tool, std::string dir, std::string file, std::string project, const Host& host = ThisHost())
      : Stack(Ready(std::move(tool)), std::move(dir), std::move(file), std::move(project), host) {}
  // With compose still being asked (another server's answer takes a login and, for v1, half a
  // second of Python): only the compose commands wait for it, and throw what the question threw.
  Stack(std::shared_future<ComposeTool> tool, std::string dir, std::string file, std::string project,
        const Host& host = ThisHost())
      : tool_(std::move(tool)), dir_(std::move(dir)), file_(std::move(file)), project_(std::move(project)),
        host_(&host) {}
  const Host& host() const { return *host_; }

  const std::string& project() const { return project_; }
  // compose ... -p project -f file --project-directory dir <args>
  std::vector<std::string> Command(const std::vector<std::string>& args) const;
  // Runs a compose command; throws mig::Error with compose's last error line on failure.
  void Run(const std::vector<std::string>& args, std::chrono::seconds timeout) const;
  void Up(const std::vector<std::string>& services = {}) const;
  // What compose v1 would make each service from now (`docker-compose config --hash=*`: service
  // -> the hash it labels a container with, the image's id at the time of asking included; an
  // image not there yet gives a hash no container has); nullopt for compose v2 (whose hash
  // leaves the image out) or when compose fails.
  std::optional<std::map<std::string, std::string>> ConfigHashes() const;
  // compose stop of the services (its order and grace periods; an empty list stops them all).
  void Stop(const std::vector<std::string>& services) const;
  // The same through `docker stop`, without compose's start-up (docker.cc): dependents first,
  // each service's grace period, its running, restarting or paused containers (not one-offs).
  // An empty list stops nothing.
  void StopServices(const std::vector<compose::Service>& services) const;
  // The project's containers (all states).
  std::vector<Container> Containers() const;
  // The name of the running container of `service`, or "" when there is none.
  std::string RunningContainer(const std::string& service) const;
  // Waits until every listed service has a running (and, with a health check, healthy)
  // container. Throws with the services still waiting when `timeout` passes.
  void WaitUp(const std::vector<std::string>& services, std::chrono::seconds timeout) const;

 private:
  static std::shared_future<ComposeTool> Ready(ComposeTool tool);
  std::shared_future<ComposeTool> tool_;
  std::string dir_, file_, project_;
  const Host* host_;
};

// Whether `compose up -d` would leave the project as it is: every service of `hashes` has one
// container (not a one-off), running, made from that hash and from the image its name gives now
// (`images`: service -> image id, asked after the hashes: an image pulled again since they were
// asked changes nothing in them), and none is scaled (`services`: the project's). Pure.
bool UpToDate(const std::map<std::string, std::string>& hashes, const std::vector<compose::Service>& services,
              const std::map<std::string, std::string>& images, const std::vector<Container>& containers);

// The id of the image `ref` names on this machine's engine ("sha256:..."), or "" when there is
// none or the engine's API cannot be asked.
std::string ImageId(const std::string& ref, const Host& host = ThisHost());

// The containers (all states) of compose project `project`.
std::vector<Container> ProjectContainers(const std::string& project, const Host& host = ThisHost());
// The order compose stop follows: levels, each stopped at once, a service before those it
// needs (compose::Service::needs); a cycle's services in one level. Pure.
std::vector<std::vector<std::string>> StopOrder(const std::vector<compose::Service>& services);

// The name of the running container (not a one-off) of `service` among `containers`, or "" when none runs.
std::string RunningContainer(const std::vector<Container>& containers, const std::string& service);

// The compose project whose containers were started from `dir` (label
// com.docker.compose.project.working_dir), or "" when none was.
std::string ProjectStartedFrom(const std::string& dir, const Host& host = ThisHost());

// The names of the engine's volumes (`docker volume ls`). Throws mig::Error when docker fails.
std::vector<std::string> VolumeNames(const Host& host = ThisHost());

// Containers (of any project) that publish host port `port`: "name (project/service)".
std::vector<std::string> ContainersPublishing(int port, const std::string& except_project);

// Where `host`'s engine keeps its data (docker info's DockerRootDir), or "" when it does not say.
std::string RootDir(const Host& host = ThisHost());

}  // namespace mig::docker
