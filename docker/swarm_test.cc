// The Swarm as its manager's docker CLI answers, recorded on the rig's real 2-node Swarm
// (tests/data/swarm/README.md).
#include "docker/swarm.h"

#include <catch2/catch.hpp>

#include "core/error.h"
#include "tests/swarm_data.h"
#include "tests/test_data.h"

using namespace mig;
using namespace mig::docker;

TEST_CASE("swarm info: a manager, a worker, an engine in no Swarm") {
  SwarmInfo m = ParseSwarmInfo(TestData("swarm/info_swarm_manager.json"));
  CHECK(m.active);
  CHECK(m.manager);
  CHECK(m.nodes == 2);
  CHECK(m.managers == 1);
  CHECK(m.node_addr == "10.251.201.1");
  SwarmInfo w = ParseSwarmInfo(TestData("swarm/info_swarm_worker.json"));
  CHECK(w.active);
  CHECK_FALSE(w.manager);
  SwarmInfo none = ParseSwarmInfo(
      R"({"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"","RemoteManagers":null})");
  CHECK_FALSE(none.active);
  CHECK(none.state == "inactive");
  CHECK_THROWS_AS(ParseSwarmInfo("Cannot connect to the Docker daemon"), Error);
}

TEST_CASE("swarm nodes: hostname, address, role, availability, state; sorted by hostname") {
  const Swarm s = RecordedSwarm();
  REQUIRE(s.nodes.size() == 2);
  const SwarmNode& n1 = s.nodes[0];
  CHECK(n1.hostname == "migswrig1");
  CHECK(n1.address == "10.251.201.1");
  CHECK(n1.role == "manager");
  CHECK(n1.leader);
  CHECK(n1.availability == "active");
  CHECK(n1.ready());
  CHECK(n1.id == "a3s5ftv4pdtvg1owdr3vv7r3c");
  CHECK(s.nodes[1].hostname == "migswrig2");
  CHECK(s.nodes[1].role == "worker");
  CHECK(s.nodes[1].address == "10.251.201.2");
  CHECK(s.node("migswrig2") == &s.nodes[1]);
  CHECK(s.node(n1.id) == &s.nodes[0]);
  CHECK(s.node("elsewhere") == nullptr);
}

TEST_CASE("swarm nodes: a manager that reports 0.0.0.0 is known by its advertised address; labels") {
  auto nodes = ParseNodes(R"([{"ID":"x1","Spec":{"Labels":{"disk":"ssd"},"Role":"manager","Availability":"drain"},
    "Description":{"Hostname":"m1"},"Status":{"State":"down","Addr":"0.0.0.0"},
    "ManagerStatus":{"Leader":false,"Reachability":"unreachable","Addr":"192.0.2.7:2377"}}])");
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].address == "192.0.2.7");
  CHECK(nodes[0].labels.at("disk") == "ssd");
  CHECK_FALSE(nodes[0].ready());
  CHECK(nodes[0].availability == "drain");
  CHECK_THROWS_AS(ParseNodes("{}"), Error);
  auto v6 = ParseNodes(R"([{"ID":"x2","Spec":{"Role":"manager"},"Description":{"Hostname":"m2"},
    "Status":{"State":"ready","Addr":"0.0.0.0"},"ManagerStatus":{"Addr":"[fd00::7]:2377"}}])");
  CHECK(v6[0].address == "fd00::7");
}

TEST_CASE("swarm services: the stack's prefix, replicas, constraints, named volumes") {
  const Swarm s = RecordedSwarm();
  REQUIRE(s.services.size() == 2);
  const StackService& app = s.services[0];
  CHECK(app.name == "demo_app");
  CHECK(app.short_name == "app");
  CHECK(app.image == "migrate-test/busybox:1");
  CHECK_FALSE(app.global);
  CHECK(app.replicas == 1);
  CHECK(app.constraints == std::vector<std::string>{"node.hostname == migswrig2"});
  REQUIRE(app.volumes.size() == 1);
  CHECK(app.volumes[0].name == "demo_app_data");
  CHECK(app.volumes[0].target == "/srv");
  const StackService& pg = s.services[1];
  CHECK(pg.short_name == "postgres");
  CHECK(pg.constraints == std::vector<std::string>{"node.hostname == migswrig1"});
  REQUIRE(pg.volumes.size() == 1);
  CHECK(pg.volumes[0].name == "demo_postgres_data");
}

TEST_CASE("swarm tasks: each on its node, running, by service") {
  const Swarm s = RecordedSwarm();
  CHECK(s.NodesOf("demo_app") == std::vector<std::string>{"migswrig2"});
  CHECK(s.NodesOf("demo_postgres") == std::vector<std::string>{"migswrig1"});
  CHECK(s.Running("demo_app") == 1);
  CHECK(s.Running("demo_postgres") == 1);
  // A global service's task is named SERVICE.NODEID; a task not yet placed has no node.
  std::vector<StackService> svcs(2);
  svcs[0].name = "demo_agent", svcs[1].name = "demo_agent_sidecar";
  auto tasks = ParseTasks(
      "{\"ID\":\"t1\",\"Name\":\"demo_agent_sidecar.abc\",\"Node\":\"n1\",\"DesiredState\":\"Running\","
      "\"CurrentState\":\"Running 1 second ago\"}\n"
      "{\"ID\":\"t2\",\"Name\":\"demo_agent.xyz\",\"Node\":\"\",\"DesiredState\":\"Running\","
      "\"CurrentState\":\"Pending 3 seconds ago\",\"Error\":\"no suitable node\"}\n",
      svcs);
  REQUIRE(tasks.size() == 2);
  CHECK(tasks[0].service == "demo_agent_sidecar");
  CHECK(tasks[0].running());
  CHECK(tasks[1].service == "demo_agent");
  CHECK_FALSE(tasks[1].running());
  CHECK(tasks[1].error == "no suitable node");
}

TEST_CASE("swarm stacks: names and their service counts") {
  auto stacks = ParseStacks(TestData("swarm/stack_ls.jsonl"));
  REQUIRE(stacks.size() == 1);
  CHECK(stacks.at("demo") == 2);
  CHECK(ParseStacks("").empty());
}

namespace {

// docker as a Swarm manager answers while a stack's tasks stop: `stack rm` refused
// `refusals` times for a network still in use, then done; nothing of the stack left.
class LeavingStackHost : public Host {
 public:
  explicit LeavingStackHost(int refusals, std::string refusal) : refusals_(refusals), refusal_(std::move(refusal)) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string&, std::chrono::seconds) const override {
    ProcResult r;
    r.code = 0;
    if (argv.size() > 2 && argv[1] == "stack" && argv[2] == "rm") {
      ++removals;
      if (refusals_-- > 0) {
        r.code = 1;
        r.out = "Removing service demo_app\nRemoving network demo_default\n";
        r.err = refusal_;
      }
    }
    return r;
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>&, int) const override { Fail("not here"); }
  std::string Describe() const override { return "a manager"; }
  mutable int removals = 0;

 private:
  mutable int refusals_;
  std::string refusal_;
};

const char* const kInUse =
    "Failed to remove network kwzu14766fu0: Error response from daemon: rpc error: code = FailedPrecondition desc = "
    "network kwzu14766fu0 is in use by task jq9o92fv7l0ohrfailed to remove some resources from stack: demo\n";

}  // namespace

TEST_CASE("stack rm refused for a network its stopping tasks still hold is asked again; another failure is said") {
  LeavingStackHost leaving(2, kInUse);
  RemoveStack("demo", std::chrono::seconds(30), leaving);
  CHECK(leaving.removals == 3);
  LeavingStackHost refused(1, "Error response from daemon: this node is not a swarm manager.\n");
  CHECK_THROWS_WITH(RemoveStack("demo", std::chrono::seconds(30), refused),
                    Catch::Contains("docker stack rm demo failed: Error response from daemon: this node is not a swarm manager."));
  CHECK(refused.removals == 1);
  LeavingStackHost stuck(1000, kInUse);
  CHECK_THROWS_WITH(RemoveStack("demo", std::chrono::seconds(1), stuck), Catch::Contains("is in use by task"));
}
