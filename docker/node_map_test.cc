// The node map of a restore onto another Swarm: the recorded rig's nodes as the old Swarm, and
// a target made of them with other ids, hostnames and addresses.
#include "docker/node_map.h"

#include <catch2/catch.hpp>

#include "core/error.h"
#include "tests/exit_code.h"
#include "tests/swarm_data.h"

using namespace mig;
using namespace mig::docker;

namespace {

std::vector<OldNode> Old() {
  std::vector<OldNode> v;
  for (const auto& n : RecordedSwarm().nodes) v.push_back({n.id, n.hostname, n.address, n.role});
  std::sort(v.begin(), v.end(), [](const OldNode& a, const OldNode& b) { return a.hostname < b.hostname; });
  return v;  // migswrig1 (10.251.201.1, manager), migswrig2 (10.251.201.2, worker)
}

std::vector<SwarmNode> Target(int n = 2) {
  std::vector<SwarmNode> v;
  for (int k = 1; k <= n; ++k) {
    SwarmNode x = RecordedSwarm().nodes[0];
    x.id = "newid" + std::to_string(k), x.hostname = "fresh" + std::to_string(k);
    x.address = "10.9.0." + std::to_string(k);
    x.state = "ready", x.availability = "active";
    v.push_back(x);
  }
  return v;
}

std::string Message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("node map: without pairs every needed old node of another Swarm is missing") {
  const NodeMap m = MapNodes(Old(), {"migswrig2", "migswrig1"}, Target(), {});
  CHECK_FALSE(m.complete());
  REQUIRE(m.missing.size() == 2);
  CHECK(m.missing[0].hostname == "migswrig2");  // in the order the restore needs them
  const auto file = nlohmann::json::parse(NodeMapFileText(m.needed, m.to));
  CHECK(file["nodes"][0]["hostname"] == "migswrig2");
  CHECK(file["nodes"][0]["address"] == "10.251.201.2");
  CHECK(file["nodes"][0]["role"] == "worker");
  CHECK(file["nodes"][0]["new"] == "");
}

TEST_CASE("node map: the filled-in file round trip, by hostname and by address on both sides") {
  NodeMap m = MapNodes(Old(), {"migswrig1", "migswrig2"}, Target(), {});
  auto file = nlohmann::json::parse(NodeMapFileText(m.needed, m.to));
  file["nodes"][0]["new"] = "10.9.0.2";  // migswrig1 onto fresh2, by its address
  file["nodes"][1]["new"] = "fresh1";
  const NodePairs pairs = ParseNodeMapFile(file.dump(), "map.json");
  REQUIRE(pairs.size() == 2);
  m = MapNodes(Old(), {"migswrig1", "migswrig2"}, Target(), pairs);
  CHECK(m.complete());
  CHECK(m.to.at("migswrig1").hostname == "fresh2");
  CHECK(m.to.at("migswrig2").hostname == "fresh1");
  // An old node named by its address; a later pair wins.
  m = MapNodes(Old(), {"migswrig2"}, Target(), {{"10.251.201.2", "fresh1"}, {"migswrig2", "newid2"}});
  CHECK(m.to.at("migswrig2").hostname == "fresh2");
}

TEST_CASE("node map: an old node still in the target Swarm (the same Swarm) maps to itself") {
  std::vector<SwarmNode> same = RecordedSwarm().nodes;
  for (auto& n : same) n.state = "ready", n.availability = "active";
  const NodeMap m = MapNodes(Old(), {"migswrig1", "migswrig2"}, same, {});
  CHECK(m.complete());
  CHECK(m.to.at("migswrig2").hostname == "migswrig2");
}

TEST_CASE("node map: bad pairs are refused naming the nodes") {
  CHECK(ExitCodeOf([] { MapNodes(Old(), {"migswrig1"}, Target(), {{"nosuch", "fresh1"}}); }) == 2);
  CHECK(Message([] { MapNodes(Old(), {"migswrig1"}, Target(), {{"nosuch", "fresh1"}}); })
            .find("migswrig1 (10.251.201.1)") != std::string::npos);
  CHECK(Message([] { MapNodes(Old(), {"migswrig1"}, Target(), {{"migswrig1", "nosuchnode"}}); })
            .find("nosuchnode is no node of this Swarm (docker node ls: fresh1 (10.9.0.1), fresh2") != std::string::npos);
  const std::string both =
      Message([] { MapNodes(Old(), {"migswrig1", "migswrig2"}, Target(), {{"migswrig1", "fresh1"}, {"migswrig2", "fresh1"}}); });
  CHECK(both.find("migswrig1 and migswrig2 both map onto fresh1") != std::string::npos);
  // A Swarm with fewer usable nodes than the backup needs: said before any map is asked for.
  CHECK(Message([] { MapNodes(Old(), {"migswrig1", "migswrig2"}, Target(1), {}); })
            .find("needs 2 nodes of their own (migswrig1, migswrig2: volumes and pinned services) and this Swarm has 1 "
                  "ready and active (fresh1)") != std::string::npos);
  auto down = Target();
  down[1].state = "down";
  CHECK(Message([&] { MapNodes(Old(), {"migswrig2"}, down, {{"migswrig2", "fresh2"}}); }).find("is down, not ready") !=
        std::string::npos);
  auto drained = Target();
  drained[1].availability = "drain";
  CHECK(ExitCodeOf([&] { MapNodes(Old(), {"migswrig2"}, drained, {{"migswrig2", "fresh2"}}); }) == 2);
  // A pair for an old node the restore does not need is taken, and harmless.
  const NodeMap extra = MapNodes(Old(), {"migswrig2"}, Target(), {{"migswrig1", "fresh2"}, {"migswrig2", "fresh1"}});
  CHECK(extra.complete());
  CHECK(extra.to.at("migswrig2").hostname == "fresh1");
  CHECK(ExitCodeOf([] { ParseNodeMapArg("migswrig1"); }) == 2);
  CHECK(ExitCodeOf([] { ParseNodeMapArg("=fresh1"); }) == 2);
  CHECK(ParseNodeMapArg("a=b=c") == std::pair<std::string, std::string>("a", "b=c"));
  CHECK(ExitCodeOf([] { ParseNodeMapFile("{\"nodes\": 3}", "m.json"); }) == 2);
  CHECK(ExitCodeOf([] { ParseNodeMapFile("not json", "m.json"); }) == 2);
}

TEST_CASE("node map: constraints naming an old node are rewritten to its new node, spacing kept") {
  const NodeMap m = MapNodes(Old(), {"migswrig1", "migswrig2"}, Target(), {{"migswrig1", "fresh1"}, {"migswrig2", "fresh2"}});
  const std::string id2 = Old()[1].id;
  CHECK(RewriteConstraint("node.hostname == migswrig2", Old(), m) == "node.hostname == fresh2");
  CHECK(RewriteConstraint("node.hostname!=migswrig1", Old(), m) == "node.hostname!=fresh1");
  CHECK(RewriteConstraint("node.id==" + id2, Old(), m) == "node.id==newid2");
  CHECK_FALSE(RewriteConstraint("node.role == manager", Old(), m));
  CHECK_FALSE(RewriteConstraint("node.hostname == someother", Old(), m));
  CHECK_FALSE(RewriteConstraint("node.labels.host == migswrig2", Old(), m));
  CHECK(NodesNamedBy({"node.role == worker", "node.hostname == migswrig2", "node.id == " + id2}, Old()) ==
        std::vector<std::string>{"migswrig2"});
}

TEST_CASE("node map: hostnames without regard to case, a node that left beside its successor, a pair over identity") {
  auto t = Target();
  SwarmNode ghost = t[1];  // fresh2 left and joined again: the old entry stays listed, down
  ghost.id = "ghostid", ghost.state = "down";
  t.insert(t.begin(), ghost);
  NodeMap m = MapNodes(Old(), {"migswrig2"}, t, {{"MIGSWRIG2", "Fresh2"}});
  CHECK(m.to.at("migswrig2").id == "newid2");
  m = MapNodes(Old(), {"migswrig2"}, t, {{"migswrig2", "10.9.0.2"}});
  CHECK(m.to.at("migswrig2").id == "newid2");
  // The same Swarm maps each node to itself unless a pair says otherwise.
  std::vector<SwarmNode> same = RecordedSwarm().nodes;
  for (auto& n : same) n.state = "ready", n.availability = "active";
  m = MapNodes(Old(), {"migswrig2"}, same, {{"migswrig2", "migswrig1"}});
  CHECK(m.to.at("migswrig2").hostname == "migswrig1");
  m = MapNodes(Old(), {"migswrig1", "migswrig2"}, Target(), {{"migswrig1", "fresh1"}, {"migswrig2", "fresh2"}});
  CHECK(RewriteConstraint("Node.Hostname == MigSwRig2", Old(), m) == "Node.Hostname == fresh2");
  // Only == pins a service; != names a node too (it must be mapped) but pins nothing.
  CHECK(NodesNamedBy({"node.hostname != migswrig1"}, Old()) == std::vector<std::string>{"migswrig1"});
  CHECK(NodesNamedBy({"node.hostname != migswrig1"}, Old(), true).empty());
  CHECK(NodesNamedBy({"node.hostname==migswrig2"}, Old(), true) == std::vector<std::string>{"migswrig2"});
}
