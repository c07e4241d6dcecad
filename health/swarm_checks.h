// migrate check's rows for an install deployed as a stack on a Docker Swarm (docs/swarm.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "docker/swarm.h"
#include "health/check.h"
#include "origin/node_access.h"

namespace mig::health {

// The rows of a stack as Swarm runs it: "swarm" (the stack, its services and nodes), one row
// per node (address, role, availability, state, labels; a node down or not active warns) and
// one per service (tasks running of those wanted, on which nodes, constraints, volumes; short
// of replicas warns). `db_service`: the compose name of the database service, whose row is
// named "postgres" (its database is read over SSH to its node once node access is built).
std::vector<Check> SwarmRows(const docker::Swarm& s, const std::string& db_service);

// Over SSH to each node (NodeSpec): its docker engine answers there and is that node (its
// Swarm node id), and the named volumes of the tasks it runs are there. A node that cannot be
// reached warns: backing up and restoring the stack read and write each node over SSH.
std::vector<Check> SwarmNodeAccessRows(const docker::Swarm& s, const NodeDefaults& d);

// Whether the engine DOCKER_HOST names runs `stack` as a Swarm manager: the Swarm read, or
// nullopt (not in a Swarm, or no such stack: the install is a compose install). A worker, or a
// Swarm that cannot be read, adds a row saying so to `rows`.
std::optional<docker::Swarm> SwarmOfInstall(const std::string& stack, std::vector<Check>& rows);

}  // namespace mig::health
