// The Swarm recorded on the rig (tests/data/swarm/README.md) as its manager answered, for the
// unit tests of its readers and users.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "docker/swarm.h"
#include "tests/test_data.h"

namespace mig {

// The two recorded inspect answers as one list, as `docker ... inspect ID1 ID2` gives them.
inline std::string RecordedList(const std::string& a, const std::string& b) {
  auto ja = nlohmann::json::parse(TestData(a)), jb = nlohmann::json::parse(TestData(b));
  for (auto& x : jb) ja.push_back(x);
  return ja.dump();
}

// The stack `demo` on the two nodes migswrig1 (manager, postgres) and migswrig2 (app).
inline docker::Swarm RecordedSwarm() {
  docker::Swarm s;
  s.stack = "demo";
  s.info = docker::ParseSwarmInfo(TestData("swarm/info_swarm_manager.json"));
  s.nodes = docker::ParseNodes(RecordedList("swarm/node_inspect_migswrig2.json", "swarm/node_inspect_migswrig1.json"));
  s.services = docker::ParseServices(
      RecordedList("swarm/service_inspect_demo_postgres.json", "swarm/service_inspect_demo_app.json"), "demo");
  s.tasks = docker::ParseTasks(
      TestData("swarm/service_ps_demo_postgres.jsonl") + TestData("swarm/service_ps_demo_app.jsonl"), s.services);
  return s;
}

}  // namespace mig
