// Which volume a backup of a stack reads on which node, from the rig's recorded Swarm
// (tests/data/swarm/README.md) and variations of it.
#include "backup/swarm_plan.h"

#include <catch2/catch.hpp>

#include "core/error.h"
#include "tests/swarm_data.h"
#include "tests/test_data.h"

using namespace mig;
using namespace mig::backup;

TEST_CASE("swarm backup plan: the app's volume on its node, never the database's; the database's node") {
  const SwarmBackupPlan p = PlanSwarmBackup(RecordedSwarm(), "postgres");
  REQUIRE(p.part.volumes.size() == 1);
  CHECK(p.part.volumes[0].name == "demo_app_data");
  CHECK(p.part.volumes[0].node == "migswrig2");
  CHECK(p.part.volumes[0].part == "volume-1");
  CHECK(p.db_node == "migswrig1");
  CHECK(p.db_task_service == "demo_postgres");
  CHECK(p.part.nodes.size() == 2);
  CHECK(p.part.services.size() == 2);
}

TEST_CASE("swarm backup plan: a volume read once per node, on every node that runs a task") {
  docker::Swarm s = RecordedSwarm();
  docker::StackService twin = s.services[0];  // a second service mounting the app's volume
  twin.name = "demo_worker", twin.short_name = "worker";
  s.services.push_back(twin);
  docker::Task t = s.tasks.back();
  t.service = "demo_worker";
  s.tasks.push_back(t);
  docker::Task other = t;  // and the app running on node 1 as well
  other.service = "demo_app", other.node = "migswrig1";
  s.tasks.push_back(other);
  const SwarmBackupPlan p = PlanSwarmBackup(s, "postgres");
  REQUIRE(p.part.volumes.size() == 2);
  CHECK(p.part.volumes[0].node == "migswrig1");
  CHECK(p.part.volumes[1].node == "migswrig2");
}

TEST_CASE("swarm backup plan: what cannot be read is refused, never skipped") {
  docker::Swarm s = RecordedSwarm();
  CHECK_THROWS_WITH(PlanSwarmBackup(s, "db"), Catch::Contains("has no service db"));
  for (auto& t : s.tasks)
    if (t.service == "demo_app") t.current = "Starting 1 second ago";
  CHECK_THROWS_WITH(PlanSwarmBackup(s, "postgres"), Catch::Contains("the node that holds the volume is unknown"));
  s = RecordedSwarm();
  for (auto& t : s.tasks)
    if (t.service == "demo_postgres") t.current = "Pending 3 seconds ago";
  CHECK_THROWS_WITH(PlanSwarmBackup(s, "postgres"), Catch::Contains("has no running task"));
}
