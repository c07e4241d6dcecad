// How to reach each node of a Swarm over SSH (docs/swarm.md "Data on disk"): by default
// root (or --node-user) at the node's Swarm address, port 22, with --key and --known-hosts as
// `migrate --from` takes them; a nodes file says otherwise per node:
//
//   nodes:
//     node2: {user: admin, address: 10.0.0.5, port: 2222, key: /root/.ssh/node2}
#pragma once

#include <map>
#include <string>

#include "origin/origin.h"

namespace mig {

// One node's entry of the nodes file; empty fields take the defaults.
struct NodeEntry {
  std::string user, address, key;
  int port = 0;
};

// The nodes file's text, by hostname. Throws mig::Error (bad input) "FILE:LINE: reason" for a
// malformed file, an unknown key, a bad port.
std::map<std::string, NodeEntry> ParseNodesFile(const std::string& text, const std::string& path);
std::map<std::string, NodeEntry> ReadNodesFile(const std::string& path);

// What the command line says for every node.
struct NodeDefaults {
  std::string user = "root";  // --node-user
  ssh::Options ssh;           // --key, --known-hosts, --accept-new-host-key
  std::map<std::string, NodeEntry> nodes;  // --nodes-file
};

// How to open node `hostname` whose Swarm address is `address`: an OriginSpec for OpenOrigin
// (user@address[:port], its key). The agent is not uploaded for a check.
OriginSpec NodeSpec(const std::string& hostname, const std::string& address, const NodeDefaults& d);

}  // namespace mig
