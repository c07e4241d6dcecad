// migrate check's Swarm rows, from the rig's recorded Swarm (tests/data/swarm/README.md).
#include "health/swarm_checks.h"

#include <catch2/catch.hpp>

#include "tests/swarm_data.h"
#include "tests/test_data.h"

using namespace mig;
using namespace mig::health;

namespace {

const Check* FindRow(const std::vector<Check>& rows, const std::string& name) {
  for (const auto& r : rows)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("swarm rows: the stack, each node, each service where it runs") {
  const auto rows = SwarmRows(RecordedSwarm(), "postgres");
  REQUIRE(rows.size() == 5);
  CHECK(rows[0].name == "swarm");
  CHECK(rows[0].detail == "stack demo on a Swarm: 2 services, 2 nodes (1 manager)");
  const Check* n2 = FindRow(rows, "node migswrig2");
  REQUIRE(n2);
  CHECK(n2->status == Status::kOk);
  CHECK(n2->detail.rfind("10.251.201.2, worker, active, ready", 0) == 0);
  CHECK(FindRow(rows, "node migswrig1")->detail.rfind("10.251.201.1, manager (leader), active, ready", 0) == 0);
  const Check* app = FindRow(rows, "service app");
  REQUIRE(app);
  CHECK(app->detail ==
        "1/1 running on migswrig2; constraints node.hostname == migswrig2; volumes demo_app_data");
  const Check* pg = FindRow(rows, "postgres");
  REQUIRE(pg);
  CHECK(pg->detail.rfind("1/1 running on migswrig1", 0) == 0);
}

TEST_CASE("swarm rows: a node down or drained, a service short of replicas: warnings with a fix") {
  docker::Swarm s = RecordedSwarm();
  s.nodes[1].state = "down";
  s.nodes[0].availability = "drain";
  s.services[0].replicas = 3;  // demo_app: 1 of 3 running
  const auto rows = SwarmRows(s, "postgres");
  const Check* down = FindRow(rows, "node migswrig2");
  CHECK(down->status == Status::kWarn);
  CHECK(down->fix.find("docker node rm migswrig2") != std::string::npos);
  CHECK(FindRow(rows, "node migswrig1")->status == Status::kWarn);
  CHECK(FindRow(rows, "node migswrig1")->fix.find("--availability active") != std::string::npos);
  const Check* app = FindRow(rows, "service app");
  CHECK(app->status == Status::kWarn);
  CHECK(app->detail.rfind("1/3 running", 0) == 0);
  CHECK(app->fix == "docker service ps demo_app --no-trunc says why its tasks do not run");
}
