// The standby restores the newest ready backup of the primary, never a failed or running one.
#include "daemon/standby.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig;
using namespace mig::daemon;

namespace {

backup::Entry E(const std::string& id, const std::string& ts, const std::string& status, const std::string& project) {
  backup::Entry e;
  e.id = id, e.timestamp = ts, e.status = status, e.project = project;
  return e;
}

}  // namespace

TEST_CASE("standby pick: the newest ready backup, never a running or failed one") {
  const std::vector<backup::Entry> all{E("d4", "2026-12-04t00-00-00", "running", "app"),
                                       E("c3", "2026-12-03t00-00-00", "failed", "app"),
                                       E("b2", "2026-12-02t00-00-00", "ready", "app"),
                                       E("a1", "2026-12-01t00-00-00", "ready", "app")};
  auto p = StandbyPick(all, "", "");
  REQUIRE(p);
  CHECK(p->id == "b2");
  CHECK(StandbyPick(all, "", "standby")->id == "b2");  // the standby's own project holds none
  CHECK_FALSE(StandbyPick(all, "other", ""));
  CHECK_FALSE(StandbyPick({all[0], all[1]}, "", ""));
  CHECK_FALSE(StandbyPick({}, "", ""));
}

TEST_CASE("standby pick: several installs in one repository") {
  const std::vector<backup::Entry> all{E("c3", "2026-12-03t00-00-00", "ready", "shop"),
                                       E("b2", "2026-12-02t00-00-00", "ready", "app"),
                                       E("a1", "2026-12-01t00-00-00", "failed", "wiki")};
  CHECK_THROWS_WITH(StandbyPick(all, "", ""), Catch::Contains("several installs (projects app, shop)") &&
                                                   Catch::Contains("standby: project:"));
  CHECK(StandbyPick(all, "app", "")->id == "b2");
  CHECK(StandbyPick(all, "", "shop")->id == "c3");  // the standby install's own project
  CHECK_FALSE(StandbyPick(all, "wiki", ""));        // its only backup failed
}
