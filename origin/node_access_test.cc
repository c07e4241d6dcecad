// How each Swarm node is reached: the defaults, and what a nodes file changes.
#include "origin/node_access.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig;

namespace {

std::string NodesFileRefusal(const std::string& text) {
  try {
    ParseNodesFile(text, "nodes.yml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("node access: root at the node's Swarm address by default, the nodes file per node") {
  NodeDefaults d;
  d.ssh.key_file = "/keys/all";
  d.ssh.known_hosts = "/keys/known";
  OriginSpec a = NodeSpec("node1", "10.0.0.1", d);
  CHECK(a.from == "root@10.0.0.1");
  CHECK(a.ssh.key_file == "/keys/all");
  CHECK(a.ssh.known_hosts == "/keys/known");
  CHECK_FALSE(a.programs_through_agent);
  d.user = "ops";
  d.nodes = ParseNodesFile("nodes:\n  node2: {user: admin, address: 192.0.2.5, port: 2222, key: /keys/n2}\n"
                           "  node3:\n    port: 22\n",
                           "nodes.yml");
  OriginSpec b = NodeSpec("node2", "10.0.0.2", d);
  CHECK(b.from == "admin@192.0.2.5:2222");
  CHECK(b.ssh.key_file == "/keys/n2");
  CHECK(NodeSpec("node3", "10.0.0.3", d).from == "ops@10.0.0.3:22");
  CHECK(NodeSpec("node4", "fd00::4", d).from == "ops@[fd00::4]");
}

TEST_CASE("node access: a bad nodes file is refused with its line") {
  CHECK(NodesFileRefusal("hosts: {}\n") == "nodes.yml: the file must hold nodes: {HOSTNAME: {user, address, port, key}}");
  CHECK(NodesFileRefusal("nodes:\n  node2: {port: 99999}\n") ==
        "nodes.yml:2: port must be a number from 1 to 65535 (not \"99999\")");
  CHECK(NodesFileRefusal("nodes:\n  node2:\n    pass: x\n").rfind("nodes.yml:3: unknown key \"pass\" for node node2", 0) == 0);
  CHECK(NodesFileRefusal("nodes:\n  node2: [1]\n").rfind("nodes.yml:2: node node2 must be a mapping", 0) == 0);
  CHECK(NodesFileRefusal("nodes: {node2: {user: [a]}}\n").find("user must be a single value") != std::string::npos);
  CHECK(NodesFileRefusal("nodes: [\n").rfind("nodes.yml:", 0) == 0);
}
