#include "backup/swarm_plan.h"

#include <set>

#include "core/error.h"
#include "core/text.h"

namespace mig::backup {

SwarmBackupPlan PlanSwarmBackup(const docker::Swarm& s, const std::string& db_service) {
  SwarmBackupPlan p;
  p.part.stack = s.stack;
  for (const auto& n : s.nodes) p.part.nodes.push_back({n.id, n.hostname, n.address, n.role, n.labels});
  int k = 0;
  bool db_found = db_service.empty();
  std::set<std::pair<std::string, std::string>> seen;  // (volume, node): read once
  std::set<std::string> db_volumes;  // a sidecar mounting the database's volume does not make it a part
  for (const auto& svc : s.services)
    if (svc.short_name == db_service)
      for (const auto& v : svc.volumes) db_volumes.insert(v.name);
  for (const auto& svc : s.services) {
    SwarmPart::Service x;
    x.name = svc.short_name;
    x.global = svc.global;
    x.replicas = svc.replicas;
    x.constraints = svc.constraints;
    x.nodes = s.NodesOf(svc.name);
    p.part.services.push_back(x);
    if (svc.short_name == db_service) {
      db_found = true;
      if (x.nodes.empty())
        Fail("the database service " + svc.name + " has no running task (docker service ps " + svc.name +
             "): start it, then back up");
      p.db_node = x.nodes.front();
      p.db_task_service = svc.name;
      continue;  // its state is the dump, never a copy of its live data folder
    }
    if (svc.volumes.empty()) continue;
    if (x.nodes.empty())
      Fail("service " + svc.name + " mounts " + svc.volumes.front().name +
           " but none of its tasks runs, so the node that holds the volume is unknown (docker service ps " +
           svc.name + "): start it, then back up");
    for (const auto& node : x.nodes)
      for (const auto& v : svc.volumes) {
        if (db_volumes.count(v.name) || !seen.insert({v.name, node}).second) continue;  // the db's; or read there
        SwarmPart::Volume vol;
        vol.name = v.name, vol.service = svc.short_name, vol.node = node;
        vol.part = "volume-" + std::to_string(++k);
        p.part.volumes.push_back(vol);
      }
  }
  if (!db_found)
    BadInput("the stack " + s.stack + " has no service " + db_service + " (its database service): name it with "
             "--db-service, so that the database is dumped and never copied as a live folder");
  return p;
}

void NodeHosts::Open(const std::string& hostname) {
  if (open_.count(hostname)) return;
  const docker::SwarmNode* n = swarm_.node(hostname);
  if (!n) Fail("node " + hostname + " is not in the Swarm any more (docker node ls)");
  try {
    open_[hostname] = OpenOrigin(NodeSpec(n->hostname, n->address, defaults_));
  } catch (const Error& e) {
    Fail("node " + hostname + " (" + n->address + ") cannot be reached over SSH: " + e.what() +
         " (give --key and --known-hosts, --node-user, or a --nodes-file entry for it; migrate check shows each node)");
  }
  // What is read or written there must be that node's: the engine that answers is asked who it is.
  const Host& h = open_[hostname]->host();
  ProcResult r = h.Run({"docker", "info", "--format", "{{.Swarm.NodeID}}"}, {}, std::chrono::seconds(30));
  const std::string id = TrimEnd(r.out);
  if (!r.ok() || id != n->id) {
    const std::string why =
        "node " + hostname + ": " + h.Describe() +
        (r.ok() ? " answers as Swarm node " + (id.empty() ? std::string("(none)") : id) + ", not as " + n->id +
                      " (give its own address in the nodes file, --nodes-file)"
                : ": docker does not answer there (" + r.last_error_line() +
                      "): the node's user must be able to use docker (--node-user)");
    open_.erase(hostname);  // its host is gone with it
    Fail(why);
  }
}

const Host& NodeHosts::Of(const std::string& hostname) const { return open_.at(hostname)->host(); }

}  // namespace mig::backup
