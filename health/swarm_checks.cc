#include "health/swarm_checks.h"

#include <algorithm>

#include "core/error.h"
#include "core/text.h"

namespace mig::health {

namespace {

Check NodeRow(const docker::SwarmNode& n) {
  std::string detail = n.address + ", " + n.role + (n.leader ? " (leader)" : "") + ", " + n.availability + ", " +
                       n.state;
  std::vector<std::string> labels;
  for (const auto& [k, v] : n.labels) labels.push_back(k + "=" + v);
  if (!labels.empty()) detail += ", labels " + Joined(labels);
  detail += ", id " + n.id.substr(0, 12);
  const std::string row = "node " + n.hostname;
  if (!n.ready())
    return Warn(row, detail, "the node is " + n.state + ": bring its docker engine back, or remove it (docker node rm " +
                                 n.hostname + ") so that Swarm places its tasks elsewhere");
  if (n.availability != "active")
    return Warn(row, detail, "the node takes no new tasks (" + n.availability +
                                 "): docker node update --availability active " + n.hostname + " when it should");
  return Ok(row, detail);
}

Check ServiceRow(const docker::Swarm& s, const docker::StackService& svc, const std::string& row) {
  const int running = s.Running(svc.name);
  const auto nodes = s.NodesOf(svc.name);
  std::string detail = std::to_string(running) + (svc.global ? " (global)" : "/" + std::to_string(svc.replicas)) +
                       " running" + (nodes.empty() ? "" : " on " + Joined(nodes));
  if (!svc.constraints.empty()) detail += "; constraints " + Joined(svc.constraints, " and ");
  std::vector<std::string> vols;
  for (const auto& v : svc.volumes) vols.push_back(v.name);
  if (!vols.empty()) detail += "; volumes " + Joined(vols);
  const bool short_of = svc.global ? running == 0 : running < svc.replicas;
  if (short_of)
    return Warn(row, detail, "docker service ps " + svc.name + " --no-trunc says why its tasks do not run");
  return Ok(row, detail);
}

}  // namespace

std::vector<Check> SwarmRows(const docker::Swarm& s, const std::string& db_service) {
  std::vector<Check> rows;
  int managers = 0;
  for (const auto& n : s.nodes) managers += n.role == "manager";
  rows.push_back(Ok("swarm", "stack " + s.stack + " on a Swarm: " + std::to_string(s.services.size()) +
                                 (s.services.size() == 1 ? " service" : " services") + ", " +
                                 std::to_string(s.nodes.size()) + (s.nodes.size() == 1 ? " node" : " nodes") + " (" +
                                 std::to_string(managers) + (managers == 1 ? " manager)" : " managers)")));
  for (const auto& n : s.nodes) rows.push_back(NodeRow(n));
  for (const auto& svc : s.services)
    rows.push_back(ServiceRow(s, svc, svc.short_name == db_service ? "postgres" : "service " + svc.short_name));
  return rows;
}

std::vector<Check> SwarmNodeAccessRows(const docker::Swarm& s, const NodeDefaults& d) {
  std::vector<Check> rows;
  for (const auto& n : s.nodes) {
    const std::string row = "ssh " + n.hostname;
    const OriginSpec spec = NodeSpec(n.hostname, n.address, d);
    const std::string how = "backup and restore of the stack read and write each node over SSH: give --key (and "
                            "--known-hosts), --node-user, or a nodes file entry (--nodes-file) for " + n.hostname;
    try {
      auto origin = OpenOrigin(spec);
      const Host& h = origin->host();
      ProcResult r = h.Run({"docker", "info", "--format", "{{.Swarm.NodeID}}"}, {}, std::chrono::seconds(30));
      const std::string id = TrimEnd(r.out);
      if (!r.ok()) {
        rows.push_back(Warn(row, spec.from + ": docker does not answer there: " + r.last_error_line(),
                            "the node's user must be able to use docker (root, or in the docker group): --node-user"));
        continue;
      }
      if (id != n.id) {
        rows.push_back(Warn(row, spec.from + " answers as Swarm node " + (id.empty() ? std::string("(none)") : id) +
                                     ", not as " + n.hostname + " (" + n.id + ")",
                            "give " + n.hostname + "'s own address in the nodes file (--nodes-file)"));
        continue;
      }
      std::vector<std::string> here, missing, unreadable;
      for (const auto& svc : s.services) {
        const auto on = s.NodesOf(svc.name);
        if (std::find(on.begin(), on.end(), n.hostname) == on.end()) continue;
        for (const auto& v : svc.volumes) {
          ProcResult vr = h.Run({"docker", "volume", "inspect", "--format", "{{.Mountpoint}}", v.name}, {},
                                std::chrono::seconds(30));
          std::string mp = vr.out.substr(0, vr.out.find('\n'));
          if (!vr.ok() || mp.empty()) {
            missing.push_back(v.name);
            continue;
          }
          // A backup reads the folder itself: the node's user must be able to (docker's folders are root's).
          ProcResult rr = h.Run({"sh", "-c", "test -r \"$1\" && test -x \"$1\"", "sh", mp}, {}, std::chrono::seconds(30));
          if (!rr.ok()) unreadable.push_back(v.name + " (" + mp + ")");
          else here.push_back(v.name);
        }
      }
      if (!missing.empty()) {
        rows.push_back(Warn(row, spec.from + ": its engine has no volume " + Joined(missing) +
                                     " although a task that mounts it runs there",
                            "docker service ps shows where the tasks run; docker volume ls on " + n.hostname));
        continue;
      }
      if (!unreadable.empty()) {
        rows.push_back(Warn(row, spec.from + ": cannot read the folder of " + Joined(unreadable),
                            "a backup reads each volume's folder on its node: log in as root (--node-user root)"));
        continue;
      }
      rows.push_back(Ok(row, spec.from + ": its engine is " + n.hostname +
                                 (here.empty() ? std::string() : "; volumes " + Joined(here) + " there")));
    } catch (const Error& e) {
      rows.push_back(Warn(row, e.what(), how));
    }
  }
  return rows;
}

std::optional<docker::Swarm> SwarmOfInstall(const std::string& stack, std::vector<Check>& rows) {
  try {
    const docker::SwarmInfo info = docker::ProbeSwarm();
    if (!info.active) return std::nullopt;
    if (!info.manager) {
      rows.push_back(Warn("swarm", "this docker engine is a Swarm worker (node " + info.node_addr +
                                       "): the stack, if the install is one, is only seen from a manager",
                          "point DOCKER_HOST at a manager (ssh://user@manager or its socket) and check again"));
      return std::nullopt;
    }
    if (!docker::Stacks().count(stack)) return std::nullopt;
    return docker::ReadSwarm(stack, info);
  } catch (const Error& e) {
    rows.push_back(Warn("swarm", std::string("the Swarm could not be read: ") + e.what(),
                        "docker node ls and docker stack ls on a manager show what is wrong"));
    return std::nullopt;
  }
}

}  // namespace mig::health
