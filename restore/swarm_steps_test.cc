// The placement steps of a restore onto a Swarm, on an install folder of its own (no docker):
// constraints rewritten once and only where the backup recorded them, then checked.
#include "restore/swarm_steps.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

using namespace mig;

namespace {

// A backup's Swarm of three nodes named as the new one's are: node1..node3.
backup::SwarmPart Part() {
  backup::SwarmPart sp;
  sp.stack = "demo";
  sp.nodes = {{"id1", "node1", "10.0.0.1", "manager", {}}, {"id2", "node2", "10.0.0.2", "worker", {}},
              {"id3", "node3", "10.0.0.3", "worker", {}}};
  sp.services = {{"postgres", false, 1, {"node.hostname == node1"}, {"node1"}},
                 {"app", false, 1, {"node.hostname==node2", "node.role == worker"}, {"node2"}},
                 {"web", false, 2, {}, {"node1", "node3"}}};
  return sp;
}

docker::NodeMap Map() {  // old node1 -> new node2, old node2 -> new node3 (the same names, shifted)
  docker::NodeMap m;
  auto node = [](const std::string& id, const std::string& h) {
    docker::SwarmNode n;
    n.id = id, n.hostname = h, n.state = "ready", n.availability = "active";
    return n;
  };
  m.to["node1"] = node("new2", "node2");
  m.to["node2"] = node("new3", "node3");
  return m;
}

Install Load(const TempDir& t) { return LoadInstall(t.path(), "target", "postgres", "", {}); }

const char* kCompose = R"(services:
  postgres:
    image: postgres
    environment: {POSTGRES_USER: app, POSTGRES_PASSWORD: pw, POSTGRES_DB: appdb}
    deploy:
      placement:
        constraints: [node.hostname == node1]
  app:
    image: app
    deploy:
      placement:
        constraints:
          - node.hostname==node2
          - node.role == worker
  web:
    image: web
)";

}  // namespace

TEST_CASE("swarm restore placement: rewritten once, even when old and new nodes share names") {
  TempDir t("swarm-steps");
  std::ofstream(t.path() + "/docker-compose.yml") << kCompose;
  const auto sp = Part();
  const auto old = OldNodes(sp);
  const auto map = Map();
  CHECK(RewritePlacement(Load(t), sp, old, map, t.path() + "/run") == 2);
  const std::string once = *ReadSmallFile(t.path() + "/docker-compose.yml");
  CHECK(once.find("constraints: [node.hostname == node2]") != std::string::npos);
  CHECK(once.find("- node.hostname==node3") != std::string::npos);
  CHECK(ReadSmallFile(t.path() + "/run/config.backup/docker-compose.yml") == std::string(kCompose));
  // The same restore resumed: the file names the new nodes now, and stays as it is (old node2 ->
  // node3 must not turn postgres's new "node2" into node3).
  CHECK(RewritePlacement(Load(t), sp, old, map, t.path() + "/run") == 0);
  CHECK(*ReadSmallFile(t.path() + "/docker-compose.yml") == once);
  CHECK_NOTHROW(CheckPlacement(Load(t), sp, old, map));
  // The first copy kept is the install's own.
  CHECK(ReadSmallFile(t.path() + "/run/config.backup/docker-compose.yml") == std::string(kCompose));
}

TEST_CASE("swarm restore placement: a pin the file does not carry to the new node is refused, naming it") {
  TempDir t("swarm-steps");
  std::string text = kCompose;
  text.replace(text.find("node.hostname==node2"), 20, "node.hostname==${APP_NODE}");
  std::ofstream(t.path() + "/docker-compose.yml") << text;
  std::ofstream(t.path() + "/.env") << "APP_NODE=node2\n";
  const auto sp = Part();
  RewritePlacement(Load(t), sp, OldNodes(sp), Map(), t.path() + "/run");
  try {
    CheckPlacement(Load(t), sp, OldNodes(sp), Map());
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("service app ran with the constraint 'node.hostname==node2'") == 0);
    CHECK(std::string(e.what()).find("does not say 'node.hostname==node3'") != std::string::npos);
  }
  // Written by hand as the sentence says: accepted.
  std::ofstream(t.path() + "/.env") << "APP_NODE=node3\n";
  CHECK_NOTHROW(CheckPlacement(Load(t), sp, OldNodes(sp), Map()));
}

TEST_CASE("swarm restore: the nodes needed are the volumes' and those constraints name") {
  const auto sp = Part();
  backup::SwarmPart::Volume v;
  v.name = "demo_app_data", v.service = "app", v.node = "node3";
  std::vector<VolumeWrite> writes{{&v, "", ""}};
  CHECK(NeededNodes(sp, writes, OldNodes(sp)) == std::vector<std::string>{"node3", "node1", "node2"});
  CHECK(NeededNodes(sp, {}, OldNodes(sp)) == std::vector<std::string>{"node1", "node2"});
}

TEST_CASE("swarm restore: a stack's volumes named after the stack restored, others as they are") {
  CHECK(StackVolume("demo_app_data", "demo", "demo2") == "demo2_app_data");
  CHECK(StackVolume("demo_app_data", "demo", "demo") == "demo_app_data");
  CHECK(StackVolume("shared-uploads", "demo", "demo2") == "shared-uploads");
  CHECK(StackVolume("demoapp_data", "demo", "x") == "demoapp_data");
}
