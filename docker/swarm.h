// A Docker Swarm and a stack deployed on it, read through the manager's docker CLI (docs/swarm.md).
// The parsers take docker's JSON as text and return plain values (unit-tested on outputs
// recorded from the rig, tests/data/swarm/); ReadSwarm runs the commands.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::docker {

// `docker info --format '{{json .Swarm}}'`.
struct SwarmInfo {
  bool active = false;   // LocalNodeState "active"
  bool manager = false;  // ControlAvailable: this engine can answer for the Swarm
  std::string state;     // LocalNodeState: inactive, pending, active, error, locked
  std::string node_id, node_addr, error;
  int nodes = 0, managers = 0;
};
SwarmInfo ParseSwarmInfo(const std::string& json);

// One node (`docker node inspect`).
struct SwarmNode {
  std::string id, hostname, address;  // address: the node's Swarm address (Status.Addr, else the manager's)
  std::string role;                   // manager, worker
  std::string availability;           // active, pause, drain
  std::string state;                  // ready, down, unknown, disconnected
  bool leader = false;
  std::map<std::string, std::string> labels;  // the node's own (Spec.Labels)
  bool ready() const { return state == "ready"; }
};
std::vector<SwarmNode> ParseNodes(const std::string& inspect_json);

// A named volume a service mounts.
struct ServiceVolume {
  std::string name, target;
};

// One service of the stack (`docker service inspect`).
struct StackService {
  std::string id, name;     // name as Swarm has it: STACK_SERVICE
  std::string short_name;   // as the compose file has it: SERVICE
  std::string image;
  bool global = false;      // mode global: one task per eligible node
  int replicas = 0;         // replicated: the replica count
  std::vector<std::string> constraints;  // "node.hostname == node2", as written
  std::vector<ServiceVolume> volumes;    // named volumes (Type volume), in mount order
};
// `stack`: the stack's name (the prefix taken off each service's name).
std::vector<StackService> ParseServices(const std::string& inspect_json, const std::string& stack);

// One task (`docker service ps --no-trunc --format '{{json .}}'`, a line each).
struct Task {
  std::string id, name, service, node;  // node: its hostname ("" before it is placed)
  std::string desired, current;         // "Running", "Running 2 minutes ago"
  std::string error;
  bool running() const { return current.rfind("Running", 0) == 0; }
};
// `services`: the services asked about (a task's service is the one its name starts with).
std::vector<Task> ParseTasks(const std::string& lines, const std::vector<StackService>& services);

// The stacks (`docker stack ls --format '{{json .}}'`): name -> number of services.
std::map<std::string, int> ParseStacks(const std::string& lines);

// A stack as Swarm runs it.
struct Swarm {
  SwarmInfo info;
  std::vector<SwarmNode> nodes;
  std::string stack;
  std::vector<StackService> services;
  std::vector<Task> tasks;  // desired state running
  const SwarmNode* node(const std::string& hostname_or_id) const;
  // Hostnames of the nodes running `service`'s tasks, sorted, each once.
  std::vector<std::string> NodesOf(const std::string& service) const;
  int Running(const std::string& service) const;
};

// A stack's replicated services scaled to 0 for a while (a backup's --suspend) and back to
// their own replica counts: by ScaleBack(), or on the way out of an exception by the destructor
// (which only logs). `host` reaches the manager.
class ScaledDown {
 public:
  explicit ScaledDown(const Host& host = ThisHost()) : host_(host) {}
  ~ScaledDown();
  ScaledDown(const ScaledDown&) = delete;
  ScaledDown& operator=(const ScaledDown&) = delete;
  // Scales `services` (their Swarm names and replica counts) to 0 and waits until their tasks
  // have stopped; `why` for the log. Throws mig::Error (the ones scaled so far are scaled back
  // by ScaleBack or the destructor).
  void ToZero(const std::vector<std::pair<std::string, int>>& services, const std::string& why);
  std::vector<std::string> names() const;
  // Back to their replica counts (not waited for); throws mig::Error with the command to run
  // by hand.
  void ScaleBack();
  // Leaves them at 0 (migrate --stop-old's end): the command that scales them back, "" when none.
  std::string Leave();

 private:
  const Host& host_;
  std::vector<std::pair<std::string, int>> scaled_;
};

// The services of `s` that a stop for a consistent copy scales to 0, with their replica counts:
// the replicated ones with replicas, but `db_service` (its short name). A global service cannot
// be scaled to 0: it is logged as running on.
std::vector<std::pair<std::string, int>> Writers(const Swarm& s, const std::string& db_service);

// `docker stack rm STACK`, then waits until its services and networks are gone (their tasks'
// containers end on their nodes afterwards: a caller that writes their volumes waits there).
// Throws mig::Error naming what was left after `wait`.
void RemoveStack(const std::string& stack, std::chrono::seconds wait, const Host& host = ThisHost());
// `docker stack deploy -c FILE STACK --with-registry-auth` by this machine's docker CLI (the
// manager DOCKER_HOST names); `resolve_image`: always, changed or never ("": docker's default);
// `env`: the variables the file is interpolated with beside the process's own (an install's
// .env: docker stack deploy does not read it), passed in the environment.
void DeployStack(const std::string& file, const std::string& stack, const std::string& resolve_image,
                 const std::map<std::string, std::string>& env);
// Waits until each service of `stack` in `services` (compose names; every service when empty)
// runs its replicas (a global one: every task it placed); returns the Swarm as it then runs.
// Throws mig::Error naming each service short of them, with its tasks' errors.
Swarm WaitStackRunning(const std::string& stack, const std::vector<std::string>& services, std::chrono::seconds wait,
                       const Host& host = ThisHost());

// The container of `service`'s (its Swarm name) running task on `host`, the Swarm node
// `node` (for messages); `task`: that task's (a task that is stopping may still run beside
// it), else any. Throws mig::Error when none runs there.
std::string TaskContainer(const Host& host, const std::string& service, const std::string& node,
                          const std::string& task = "");

// Whether the engine `host` reaches (DOCKER_HOST) is a Swarm node, and a manager.
SwarmInfo ProbeSwarm(const Host& host = ThisHost());
// The program ProbeSwarm runs where the engine's API is not at hand (asked ahead by a caller).
std::vector<std::string> SwarmProbeArgv();
// The stacks a manager knows (`docker stack ls`). REQUIRES `host` reaches a manager.
std::map<std::string, int> Stacks(const Host& host = ThisHost());
// The Swarm's nodes (no stack) from its manager; throws mig::Error when the engine is no manager.
Swarm ReadSwarmNodes(const SwarmInfo& info, const Host& host = ThisHost());
// Reads the Swarm and `stack` from its manager; `info`: what ProbeSwarm answered (not asked
// again). Throws mig::Error when the engine is no manager or the stack does not exist.
Swarm ReadSwarm(const std::string& stack, const SwarmInfo& info, const Host& host = ThisHost());

}  // namespace mig::docker
