#include "restore/skips.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

using namespace mig;

namespace {

compose::Project Project(const TempDir& tmp) {
  std::ofstream(tmp.path() + "/docker-compose.yml") << R"(services:
  postgres:
    image: postgres:15
    volumes: [pg:/var/lib/postgresql/data]
  app:
    image: app
    volumes: ["./data/uploads:/srv/uploads", "./data/uploads/thumbs:/srv/thumbs", "./data/conf/app.ini:/etc/app.ini:ro", "cache:/cache"]
  web:
    image: web
    volumes: ["./data:/srv:ro"]
  outside:
    image: tool
    volumes: ["/etc/hosts:/etc/hosts:ro", "./other:/other"]
volumes: {pg: {}, cache: {}}
)";
  return compose::LoadProject(tmp.path(), tmp.path() + "/docker-compose.yml", {});
}

}  // namespace

TEST_CASE("restore --skip: the database service keeps the database, others their data/ paths") {
  TempDir tmp("skips-test");
  auto p = Project(tmp);
  const std::string data = tmp.path() + "/data";
  Keep k = ResolveSkips(p, data, "postgres", {"postgres"});
  CHECK(k.db);
  CHECK_FALSE(k.data);
  CHECK(k.paths.empty());
  k = ResolveSkips(p, data, "postgres", {"app"});
  CHECK_FALSE(k.db);
  // thumbs/ lies inside uploads/: kept with it; a named volume is not data/.
  CHECK(k.paths == std::vector<std::string>{"conf/app.ini", "uploads"});
  k = ResolveSkips(p, data, "postgres", {"web", "app"});
  CHECK(k.data);
  CHECK(k.paths.empty());
  k = ResolveSkips(p, data, "postgres", {"outside"});
  CHECK_FALSE(k.data);
  CHECK(k.paths.empty());
  CHECK(ResolveSkips(p, data, "postgres", {}).paths.empty());
}

TEST_CASE("restore --skip: an unknown service is bad input naming the services") {
  TempDir tmp("skips-test");
  auto p = Project(tmp);
  try {
    ResolveSkips(p, tmp.path() + "/data", "postgres", {"wbe"});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("postgres, app, web, outside") != std::string::npos);
  }
}

TEST_CASE("a skipped database's reason names what the operator did") {
  CHECK(DbSkipReason(false, true, "postgres") == "the backup holds no database");
  CHECK(DbSkipReason(true, true, "") == "--skip-db");
  CHECK(DbSkipReason(true, false, "") == "the install has no database service");
  CHECK(DbSkipReason(true, false, "postgres") == "--skip postgres");
}
