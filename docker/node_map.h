// The node map of a restore onto a Swarm (docs/swarm.md "Restore onto nodes"): each old node
// the restore needs (it held a volume, ran the database, or a constraint names it) mapped to
// one node of the target Swarm. Pure: plain values in, plain values out.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "docker/swarm.h"

namespace mig::docker {

// An old node as the backup recorded it.
struct OldNode {
  std::string id, hostname, address, role;
};

// OLD=NEW pairs, in the order given (a later pair for the same old node wins): OLD an old
// node's hostname, address or id; NEW a target node's hostname, address or id.
using NodePairs = std::vector<std::pair<std::string, std::string>>;

// "OLD=NEW" (--node-map). Throws mig::Error (usage) when either side is empty.
std::pair<std::string, std::string> ParseNodeMapArg(const std::string& arg);

// The map file (restore-node-map.json, filled in): {"nodes": [{"hostname", "address", "role",
// "new"}]}; entries whose "new" is empty are left out. Throws mig::Error (input) "PATH: reason".
NodePairs ParseNodeMapFile(const std::string& text, const std::string& path);

// The map file for `needed`: what `to` maps filled in (the new node's hostname), "" for the others.
std::string NodeMapFileText(const std::vector<OldNode>& needed, const std::map<std::string, SwarmNode>& to);

// The old nodes' hostnames that placement constraints name (node.hostname ==/!= X, node.id
// ==/!= ID; case aside, as Swarm compares them), each once; `pins_only`: the == ones.
std::vector<std::string> NodesNamedBy(const std::vector<std::string>& constraints, const std::vector<OldNode>& old,
                                      bool pins_only = false);

struct NodeMap {
  std::map<std::string, SwarmNode> to;  // old hostname -> its new node
  std::vector<OldNode> missing;         // needed and not mapped
  std::vector<OldNode> needed;          // in the backup's order
  bool complete() const { return missing.empty(); }
};

// Maps `needed` (old hostnames) onto `target`'s nodes: an old node whose id is in the target
// Swarm maps to itself (a restore onto the same Swarm), then `pairs`. Throws mig::Error (input)
// when the target Swarm has fewer ready and active nodes than `needed`, for a pair whose OLD is
// no old node or whose NEW is no node of the target Swarm (a ready one first where a node that
// left is listed beside its successor of the same name), a new node that is not ready or is
// drained, and two needed old nodes onto one new node.
NodeMap MapNodes(const std::vector<OldNode>& old, const std::vector<std::string>& needed,
                 const std::vector<SwarmNode>& target, const NodePairs& pairs);

// `constraint` with the old node it names replaced by its new node (hostname for hostname, id
// for id), or nullopt when it names no mapped node. Its spacing and operator are kept.
std::optional<std::string> RewriteConstraint(const std::string& constraint, const std::vector<OldNode>& old,
                                             const NodeMap& map);

}  // namespace mig::docker
