// What a backup of a stack on a Swarm reads, and where (docs/swarm.md): the database on the
// node that runs its task, each volume of the other services on each node that runs one of
// their tasks. Pure: from the Swarm as its manager answered.
#pragma once

#include <memory>
#include <map>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "docker/swarm.h"
#include "origin/node_access.h"

namespace mig::backup {

struct SwarmBackupPlan {
  SwarmPart part;       // for the manifest; its volumes are the reads (bytes, snapshot to fill)
  std::string db_node;  // the hostname running the database's task ("" without a database service)
  std::string db_task_service;  // the database's Swarm service name (STACK_postgres)
};

// Throws mig::Error (failed) when a service that mounts a volume, or the database, has no
// running task: where its state lives is then unknown.
SwarmBackupPlan PlanSwarmBackup(const docker::Swarm& s, const std::string& db_service);

// The SSH connections to the nodes a backup reads, opened once each (in the calling thread,
// before the parts start); their hosts are then used from the parts' threads.
class NodeHosts {
 public:
  NodeHosts(const docker::Swarm& s, NodeDefaults d) : swarm_(s), defaults_(std::move(d)) {}
  // Connects to `hostname` (its Swarm address, or its nodes file entry). Throws mig::Error with
  // the node's name and the connection's sentence.
  void Open(const std::string& hostname);
  // REQUIRES Open(hostname) succeeded.
  const Host& Of(const std::string& hostname) const;

 private:
  const docker::Swarm& swarm_;
  NodeDefaults defaults_;
  std::map<std::string, std::unique_ptr<Origin>> open_;
};

}  // namespace mig::backup
