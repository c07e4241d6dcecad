#include "docker/swarm.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "docker/engine_api.h"

namespace mig::docker {

namespace {

using json = nlohmann::json;

json Parse(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    Fail("docker's answer to " + what + " is not JSON: " + e.what());
  }
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& Obj(const json& j, const char* key) {
  static const json kEmpty = json::object();
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

// The lines of `text` that hold a JSON object each (docker's --format '{{json .}}').
std::vector<json> Lines(const std::string& text, const std::string& what) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(Parse(line, what));
  return out;
}

}  // namespace

SwarmInfo ParseSwarmInfo(const std::string& text) {
  const json j = Parse(text, "docker info");
  SwarmInfo s;
  s.state = Str(j, "LocalNodeState");
  s.active = s.state == "active";
  s.manager = j.value("ControlAvailable", false);
  s.node_id = Str(j, "NodeID");
  s.node_addr = Str(j, "NodeAddr");
  s.error = Str(j, "Error");
  if (j.contains("Nodes") && j["Nodes"].is_number_integer()) s.nodes = j["Nodes"].get<int>();
  if (j.contains("Managers") && j["Managers"].is_number_integer()) s.managers = j["Managers"].get<int>();
  return s;
}

std::vector<SwarmNode> ParseNodes(const std::string& text) {
  const json arr = Parse(text, "docker node inspect");
  if (!arr.is_array()) Fail("docker node inspect did not answer a list");
  std::vector<SwarmNode> out;
  for (const auto& j : arr) {
    SwarmNode n;
    n.id = Str(j, "ID");
    const json& spec = Obj(j, "Spec");
    n.role = Str(spec, "Role");
    n.availability = Str(spec, "Availability");
    for (const auto& [k, v] : Obj(spec, "Labels").items())
      if (v.is_string()) n.labels[k] = v.get<std::string>();
    n.hostname = Str(Obj(j, "Description"), "Hostname");
    const json& status = Obj(j, "Status");
    n.state = Str(status, "State");
    n.address = Str(status, "Addr");
    const json& ms = Obj(j, "ManagerStatus");
    n.leader = ms.value("Leader", false);
    // A manager may report 0.0.0.0 as its own address: its advertised one is in ManagerStatus.
    if ((n.address.empty() || n.address == "0.0.0.0") && !Str(ms, "Addr").empty()) {
      const std::string a = Str(ms, "Addr");
      n.address = a.substr(0, a.rfind(':'));
      if (n.address.size() > 2 && n.address.front() == '[' && n.address.back() == ']')  // IPv6
        n.address = n.address.substr(1, n.address.size() - 2);
    }
    out.push_back(std::move(n));
  }
  std::sort(out.begin(), out.end(), [](const SwarmNode& a, const SwarmNode& b) { return a.hostname < b.hostname; });
  return out;
}

std::vector<StackService> ParseServices(const std::string& text, const std::string& stack) {
  const json arr = Parse(text, "docker service inspect");
  if (!arr.is_array()) Fail("docker service inspect did not answer a list");
  std::vector<StackService> out;
  for (const auto& j : arr) {
    StackService s;
    s.id = Str(j, "ID");
    const json& spec = Obj(j, "Spec");
    s.name = Str(spec, "Name");
    s.short_name = s.name.rfind(stack + "_", 0) == 0 ? s.name.substr(stack.size() + 1) : s.name;
    const json& task = Obj(spec, "TaskTemplate");
    const json& container = Obj(task, "ContainerSpec");
    s.image = Str(container, "Image");
    if (auto at = s.image.find('@'); at != std::string::npos) s.image.resize(at);  // the digest pinned at deploy
    const json& mode = Obj(spec, "Mode");
    s.global = mode.contains("Global");
    if (mode.contains("Replicated")) s.replicas = Obj(mode, "Replicated").value("Replicas", 0);
    if (auto c = Obj(task, "Placement").find("Constraints"); c != Obj(task, "Placement").end() && c->is_array())
      for (const auto& x : *c)
        if (x.is_string()) s.constraints.push_back(x.get<std::string>());
    if (auto m = container.find("Mounts"); m != container.end() && m->is_array())
      for (const auto& x : *m)
        if (Lower(Str(x, "Type")) == "volume" && !Str(x, "Source").empty())
          s.volumes.push_back({Str(x, "Source"), Str(x, "Target")});
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const StackService& a, const StackService& b) { return a.name < b.name; });
  return out;
}

std::vector<Task> ParseTasks(const std::string& text, const std::vector<StackService>& services) {
  std::vector<Task> out;
  for (const auto& j : Lines(text, "docker service ps")) {
    Task t;
    t.id = Str(j, "ID");
    t.name = Str(j, "Name");
    t.node = Str(j, "Node");
    t.desired = Str(j, "DesiredState");
    t.current = Str(j, "CurrentState");
    t.error = Str(j, "Error");
    // STACK_SERVICE.SLOT (replicated) or STACK_SERVICE.NODEID (global): the longest service
    // name the task's name starts with, followed by a dot.
    for (const auto& s : services)
      if (t.name.rfind(s.name + ".", 0) == 0 && s.name.size() > t.service.size()) t.service = s.name;
    out.push_back(std::move(t));
  }
  return out;
}

std::map<std::string, int> ParseStacks(const std::string& text) {
  std::map<std::string, int> out;
  for (const auto& j : Lines(text, "docker stack ls")) {
    int n = 0;
    try {
      n = std::stoi(Str(j, "Services"));
    } catch (const std::exception&) {
    }
    if (!Str(j, "Name").empty()) out[Str(j, "Name")] = n;
  }
  return out;
}

const SwarmNode* Swarm::node(const std::string& key) const {
  const SwarmNode* found = nullptr;  // a node that left stays listed (down) beside its successor of the same name
  for (const auto& n : nodes)
    if (n.id == key || (n.hostname == key && (!found || (!found->ready() && n.ready())))) found = &n;
  return found;
}

std::vector<std::string> Swarm::NodesOf(const std::string& service) const {
  std::set<std::string> hosts;
  for (const auto& t : tasks)
    if (t.service == service && !t.node.empty() && t.running()) hosts.insert(t.node);
  return {hosts.begin(), hosts.end()};
}

int Swarm::Running(const std::string& service) const {
  return static_cast<int>(std::count_if(tasks.begin(), tasks.end(),
                                        [&](const Task& t) { return t.service == service && t.running(); }));
}

namespace {

std::string Docker(const Host& host, const std::vector<std::string>& args, const std::string& what) {
  std::vector<std::string> argv{"docker"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcResult r = host.Run(argv, {}, std::chrono::seconds(60));
  if (!r.ok()) Fail("docker " + what + " failed: " + r.last_error_line());
  return r.out;
}

std::vector<std::string> Words(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

ScaledDown::~ScaledDown() {
  try {
    ScaleBack();
  } catch (const std::exception& e) {
    TheLog().warn(e.what());
  } catch (...) {
  }
}

void ScaledDown::ToZero(const std::vector<std::pair<std::string, int>>& services, const std::string& why) {
  if (services.empty()) return;
  // Detached: the CLI's own convergence watch adds a 5 s stability wait; the loop below is ours.
  std::vector<std::string> argv{"docker", "service", "scale", "--detach"};
  std::string names;
  for (const auto& [name, replicas] : services) {
    argv.push_back(name + "=0");
    names += (names.empty() ? "" : ", ") + name + " (" + std::to_string(replicas) + ")";
  }
  TheLog().info("scaling to 0 " + why + ": " + names);
  scaled_.insert(scaled_.end(), services.begin(), services.end());  // scaled back whatever happens next
  ProcResult r = host_.Run(argv, {}, std::chrono::seconds(300));
  if (!r.ok()) Fail("scaling " + names + " to 0 failed: " + r.last_error_line());
  // Asked until no task of them is still running (their containers ended their stop grace period).
  std::vector<std::string> ps{"docker", "service", "ps", "--format", "{{.CurrentState}}"};
  for (const auto& s : services) ps.push_back(s.first);
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(300);;) {
    ProcResult t = host_.Run(ps, {}, std::chrono::seconds(60));
    if (!t.ok()) Fail("docker service ps " + names + " failed: " + t.last_error_line());
    // A task not yet ended (Running, Starting with its health check pending, Preparing...) may
    // hold a container: only the ended states count as stopped.
    bool running = false;
    std::istringstream in(t.out);
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      bool ended = false;
      for (const char* s : {"Shutdown", "Complete", "Failed", "Rejected", "Orphaned", "Remove"})
        ended = ended || line.rfind(s, 0) == 0;
      running = running || !ended;
    }
    if (!running) return;
    if (std::chrono::steady_clock::now() > until) Fail("tasks of " + names + " were still running 5 minutes after scaling them to 0");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

std::vector<std::string> ScaledDown::names() const {
  std::vector<std::string> out;
  for (const auto& s : scaled_) out.push_back(s.first);
  return out;
}

void ScaledDown::ScaleBack() {
  if (scaled_.empty()) return;
  std::vector<std::string> argv{"docker", "service", "scale", "--detach"};
  for (const auto& [name, replicas] : scaled_) argv.push_back(name + "=" + std::to_string(replicas));
  scaled_.clear();
  ProcResult r = host_.Run(argv, {}, std::chrono::seconds(300));
  if (!r.ok())
    Fail("the services scaled to 0 for a while were not scaled back (" + r.last_error_line() + "): run " +
         CommandLine(argv));
}

std::string ScaledDown::Leave() {
  if (scaled_.empty()) return "";
  std::vector<std::string> argv{"docker", "service", "scale"};
  for (const auto& [name, replicas] : scaled_) argv.push_back(name + "=" + std::to_string(replicas));
  scaled_.clear();
  return CommandLine(argv);
}

std::vector<std::pair<std::string, int>> Writers(const Swarm& s, const std::string& db_service) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& svc : s.services) {
    if (svc.short_name == db_service || (!svc.global && svc.replicas == 0)) continue;
    if (svc.global)
      TheLog().warn(svc.name + " is a global service, which cannot be scaled to 0: it runs on meanwhile");
    else
      out.emplace_back(svc.name, svc.replicas);
  }
  return out;
}

SwarmInfo ProbeSwarm(const Host& host) {
  // The CLI's .Swarm is the API's "Swarm" of GET /info (140 ms of a CLI process on a small server).
  if (auto j = api::Get(host, "/info"); j && j->is_object() && j->contains("Swarm"))
    return ParseSwarmInfo((*j)["Swarm"].dump());
  const std::vector<std::string> argv = SwarmProbeArgv();
  return ParseSwarmInfo(Docker(host, {argv.begin() + 1, argv.end()}, "info"));
}

std::vector<std::string> SwarmProbeArgv() { return {"docker", "info", "--format", "{{json .Swarm}}"}; }

std::map<std::string, int> Stacks(const Host& host) {
  return ParseStacks(Docker(host, {"stack", "ls", "--format", "{{json .}}"}, "stack ls"));
}

Swarm ReadSwarmNodes(const SwarmInfo& info, const Host& host) {
  Swarm s;
  s.info = info;
  if (!s.info.active)
    BadInput("this docker engine is not in a Swarm (" + (s.info.state.empty() ? "inactive" : s.info.state) + ")");
  if (!s.info.manager)
    BadInput("this docker engine is a Swarm worker: point DOCKER_HOST at a manager (docker node ls works there)");
  const auto ids = Words(Docker(host, {"node", "ls", "-q"}, "node ls"));
  std::vector<std::string> inspect{"node", "inspect"};
  inspect.insert(inspect.end(), ids.begin(), ids.end());
  s.nodes = ParseNodes(Docker(host, inspect, "node inspect"));
  return s;
}

Swarm ReadSwarm(const std::string& stack, const SwarmInfo& info, const Host& host) {
  Swarm s = ReadSwarmNodes(info, host);
  s.stack = stack;
  const auto svc_ids =
      Words(Docker(host, {"service", "ls", "-q", "--filter", "label=com.docker.stack.namespace=" + stack}, "service ls"));
  if (svc_ids.empty()) BadInput("the Swarm has no stack " + stack + " (docker stack ls)");
  std::vector<std::string> sinspect{"service", "inspect"};
  sinspect.insert(sinspect.end(), svc_ids.begin(), svc_ids.end());
  s.services = ParseServices(Docker(host, sinspect, "service inspect"), stack);
  std::vector<std::string> ps{"service", "ps", "--no-trunc", "--filter", "desired-state=running", "--format",
                              "{{json .}}"};
  ps.insert(ps.end(), svc_ids.begin(), svc_ids.end());
  s.tasks = ParseTasks(Docker(host, ps, "service ps"), s.services);
  return s;
}

}  // namespace mig::docker

namespace mig::docker {

std::string TaskContainer(const Host& host, const std::string& service, const std::string& node,
                          const std::string& task) {
  ProcResult r = host.Run({"docker", "ps", "-q", "--no-trunc", "--filter",
                           task.empty() ? "label=com.docker.swarm.service.name=" + service
                                        : "label=com.docker.swarm.task.id=" + task,
                           "--filter", "status=running"},
                          {}, std::chrono::seconds(30));
  std::string id = r.out.substr(0, r.out.find('\n'));
  if (!r.ok() || id.empty())
    Fail("no running container of " + service + (task.empty() ? "" : " (task " + task + ")") + " on node " + node +
         " (docker ps there" + (r.ok() ? std::string(")") : ": " + r.last_error_line() + ")"));
  return id;
}

void RemoveStack(const std::string& stack, std::chrono::seconds wait, const Host& host) {
  const auto until = std::chrono::steady_clock::now() + wait;
  // `docker stack rm` removes the services, then the networks: one that a task of the stack
  // still holds while it stops is refused ("network ... is in use by task ...") and the command
  // fails, the services already gone. Asked again until the tasks are gone.
  for (;;) {
    ProcResult r = host.Run({"docker", "stack", "rm", stack}, {}, std::chrono::seconds(60));
    if (r.ok()) break;
    const bool task_leaving = (r.err + r.out).find("is in use by task") != std::string::npos;
    if (!task_leaving || std::chrono::steady_clock::now() > until)
      Fail("docker stack rm " + stack + " failed: " + r.last_error_line());
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const std::string label = "label=com.docker.stack.namespace=" + stack;
  for (;;) {
    const auto services = Words(Docker(host, {"service", "ls", "-q", "--filter", label}, "service ls"));
    const auto networks = Words(Docker(host, {"network", "ls", "-q", "--filter", label}, "network ls"));
    if (services.empty() && networks.empty()) return;
    if (std::chrono::steady_clock::now() > until)
      Fail("the stack " + stack + " still had " + std::to_string(services.size()) + " services and " +
           std::to_string(networks.size()) + " networks " + std::to_string(wait.count()) +
           " s after docker stack rm (docker stack ps " + stack + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

void DeployStack(const std::string& file, const std::string& stack, const std::string& resolve_image,
                 const std::map<std::string, std::string>& env) {
  std::vector<std::string> argv{"docker", "stack", "deploy", "--with-registry-auth", "-c", file};
  if (!resolve_image.empty()) argv.insert(argv.end(), {"--resolve-image", resolve_image});
  argv.push_back(stack);
  // The variables go in the environment, never in argv (.env holds passwords).
  ProcResult r = RunCapture(argv, {}, std::chrono::seconds(300), EnvVars(env.begin(), env.end()));
  if (!r.ok()) Fail("docker stack deploy -c " + file + " " + stack + " failed: " + r.last_error_line());
}

Swarm WaitStackRunning(const std::string& stack, const std::vector<std::string>& services, std::chrono::seconds wait,
                       const Host& host) {
  const SwarmInfo info = ProbeSwarm(host);
  for (auto until = std::chrono::steady_clock::now() + wait;;) {
    Swarm s = ReadSwarm(stack, info, host);
    std::vector<std::string> short_of;
    for (const auto& svc : s.services) {
      if (!services.empty() && std::find(services.begin(), services.end(), svc.short_name) == services.end()) continue;
      int placed = 0;
      std::string why;
      for (const auto& t : s.tasks) {
        if (t.service != svc.name) continue;
        ++placed;
        if (!t.running() && why.empty()) why = t.current + (t.error.empty() ? "" : ": " + t.error);
      }
      const int running = s.Running(svc.name);
      const int wanted = svc.global ? std::max(placed, 1) : svc.replicas;
      if (running < wanted)
        short_of.push_back(svc.short_name + " " + std::to_string(running) + "/" + std::to_string(wanted) + " running" +
                           (why.empty() ? "" : " (" + why + ")"));
    }
    if (short_of.empty()) return s;
    if (std::chrono::steady_clock::now() > until)
      Fail("the stack " + stack + " was not running after " + std::to_string(wait.count()) + " s: " + Joined(short_of) +
           " (docker stack ps " + stack + " --no-trunc)");
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace mig::docker
