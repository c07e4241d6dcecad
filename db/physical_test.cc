#include "db/physical.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "tests/exit_code.h"

using namespace mig;
using namespace mig::db;

namespace {

PhysicalFacts SameMajor() {
  PhysicalFacts f;
  f.src_major = f.dst_major = 15;
  f.src_can_back_up = true;
  f.src_db = "app";
  f.dst_db = "app";
  f.src_databases = {"postgres", "template0", "template1", "app"};
  return f;
}

TEST_CASE("the stopped source's next transaction id is read from pg_controldata as an xid8") {
  const std::string control = "Latest checkpoint location:           0/3000148\n"
                              "Latest checkpoint's NextXID:          0:1234\n"
                              "Latest checkpoint's NextOID:          24576\n";
  CHECK(NextXidFromControlData(control) == "1234");
  CHECK(NextXidFromControlData("Latest checkpoint's NextXID:          2:5\n") == std::to_string((2ull << 32) | 5));
  CHECK(NextXidFromControlData("Latest checkpoint's NextXID:          5\n").empty());  // no epoch: not understood
  CHECK(NextXidFromControlData("Latest checkpoint's NextXID:  0:12x\n").empty());
  CHECK(NextXidFromControlData("Latest checkpoint's NextXID:  99999999999:1\n").empty());
  CHECK(NextXidFromControlData("nothing").empty());
}

}  // namespace

TEST_CASE("db method: logical asks nothing, physical and auto copy the cluster when they can") {
  CHECK(ChooseDbMethod(DbMethod::kLogical, SameMajor()).method == DbMethod::kLogical);
  CHECK(ChooseDbMethod(DbMethod::kPhysical, SameMajor()).method == DbMethod::kPhysical);
  const DbMethodChoice a = ChooseDbMethod(DbMethod::kAuto, SameMajor());
  CHECK(a.method == DbMethod::kPhysical);
  CHECK(a.why == "the cluster copied as files (postgres 15 on both sides)");
  PhysicalFacts renamed = SameMajor();
  renamed.dst_db = "app2";  // the source has no app2: its app is renamed to it
  CHECK(ChooseDbMethod(DbMethod::kAuto, renamed).method == DbMethod::kPhysical);
}

TEST_CASE("db method: auto falls back to logical with the reason; physical is refused with it (exit 2)") {
  PhysicalFacts across = SameMajor();
  across.dst_major = 16;
  const DbMethodChoice a = ChooseDbMethod(DbMethod::kAuto, across);
  CHECK(a.method == DbMethod::kLogical);
  CHECK(a.why == "a dump replayed: the source runs postgres 15 and the target 16: a physical copy cannot cross a "
                 "major version");
  CHECK(ExitCodeOf([&] { ChooseDbMethod(DbMethod::kPhysical, across); }) == 2);

  PhysicalFacts no_right = SameMajor();
  no_right.src_can_back_up = false;
  CHECK(ChooseDbMethod(DbMethod::kAuto, no_right).method == DbMethod::kLogical);
  CHECK(ExitCodeOf([&] { ChooseDbMethod(DbMethod::kPhysical, no_right); }) == 2);

  PhysicalFacts clash = SameMajor();
  clash.dst_db = "other";
  clash.src_databases.push_back("other");  // the source has both: app cannot become "other"
  const DbMethodChoice c = ChooseDbMethod(DbMethod::kAuto, clash);
  CHECK(c.method == DbMethod::kLogical);
  CHECK(c.why.find("has a database other besides app") != std::string::npos);
}

TEST_CASE("db method names parse back; anything else is bad usage") {
  for (DbMethod m : {DbMethod::kLogical, DbMethod::kPhysical, DbMethod::kAuto})
    CHECK(ParseDbMethod(DbMethodName(m)) == m);
  CHECK(ExitCodeOf([] { ParseDbMethod("fast"); }) == 2);
}

TEST_CASE("the target's credentials after a physical copy: its role made or altered, the database renamed") {
  CHECK(ReapplyCredentialsSql("app", "pw", "app", "app") ==
        "SELECT 'CREATE ROLE ' || quote_ident('app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app') "
        "\\gexec\nALTER ROLE \"app\" WITH LOGIN SUPERUSER PASSWORD 'pw';\n");
  // Quotes in names and passwords stay inside their literals.
  const std::string sql = ReapplyCredentialsSql("o'neil", "p'w\"", "old db", "new\"db");
  CHECK(sql.find("quote_ident('o''neil')") != std::string::npos);
  CHECK(sql.find("ALTER ROLE \"o'neil\" WITH LOGIN SUPERUSER PASSWORD 'p''w\"';") != std::string::npos);
  CHECK(sql.find("ALTER DATABASE \"old db\" RENAME TO \"new\"\"db\";") != std::string::npos);
}

TEST_CASE("the roll back of a physical copy unpacks the kept cluster first, then puts it in place of the copy") {
  ClusterHome h{"new-postgres-1", "sha256:abc", "/var/lib/postgresql/data", "", ""};
  CHECK(RestoreClusterCommand(h, "/srv/new/migration/20261201-000000/target-cluster.tar.gz") ==
        "docker stop new-postgres-1 && docker run --rm -i --network none -u 0 --volumes-from new-postgres-1 "
        "--entrypoint sh sha256:abc -c 'cd \"$1\" && rm -rf .migrate-back && mkdir -m 700 .migrate-back && tar -xzf - -C "
        ".migrate-back && find . -mindepth 1 -maxdepth 1 ! -name .migrate-back -exec rm -rf {} + && mv .migrate-back/* . "
        "&& rmdir .migrate-back' "
        "sh /var/lib/postgresql/data < /srv/new/migration/20261201-000000/target-cluster.tar.gz && docker start "
        "new-postgres-1");
}

TEST_CASE("db method: below postgres 15, or a target whose cluster a helper cannot reach, is logical") {
  PhysicalFacts old = SameMajor();
  old.src_major = old.dst_major = 14;
  CHECK(ChooseDbMethod(DbMethod::kAuto, old).method == DbMethod::kLogical);
  CHECK(ExitCodeOf([&] { ChooseDbMethod(DbMethod::kPhysical, old); }) == 2);
  PhysicalFacts inside = SameMajor();
  inside.dst_home_problem = "the target's postgres: its data directory /pg is not on a volume or bind mount";
  const DbMethodChoice c = ChooseDbMethod(DbMethod::kAuto, inside);
  CHECK(c.method == DbMethod::kLogical);
  CHECK(c.why == "a dump replayed: " + inside.dst_home_problem);
}

TEST_CASE("the target's data directory must be on a mount, at or below it") {
  CHECK(PgdataProblem("/var/lib/postgresql/data", {"/var/lib/postgresql/data"}).empty());
  CHECK(PgdataProblem("/var/lib/postgresql/data/pgdata", {"/etc/x", "/var/lib/postgresql/data"}).empty());
  CHECK(PgdataProblem("/var/lib/postgresql/data", {}).find("not on a volume or bind mount") != std::string::npos);
  CHECK(PgdataProblem("/var/lib/postgresql/database", {"/var/lib/postgresql/data"}) != "");  // a prefix, not a parent
  CHECK(PgdataProblem("/", {"/"}) != "");
  CHECK(PgdataProblem("data", {"data"}) != "");
  CHECK(PgdataProblem("/v/../etc", {"/v"}) != "");
}

TEST_CASE("db method for --two-phase: the standby, the dump in the downtime across majors only unless asked") {
  CHECK(ChooseTwoPhaseMethod(DbMethod::kLogical, false, SameMajor()).method == DbMethod::kPhysical);
  PhysicalFacts across = SameMajor();
  across.dst_major = 16;
  CHECK(ChooseTwoPhaseMethod(DbMethod::kLogical, false, across).method == DbMethod::kLogical);
  PhysicalFacts no_right = SameMajor();
  no_right.src_can_back_up = false;
  CHECK(ExitCodeOf([&] { ChooseTwoPhaseMethod(DbMethod::kLogical, false, no_right); }) == 2);
  try {
    ChooseTwoPhaseMethod(DbMethod::kLogical, false, no_right);
  } catch (const mig::Error& e) {
    CHECK_THAT(e.what(), Catch::StartsWith("--two-phase copies the database as a standby, but the source's user is"));
    CHECK_THAT(e.what(), Catch::Contains("--db-method logical"));
  }
  // asked for: as ChooseDbMethod
  CHECK(ChooseTwoPhaseMethod(DbMethod::kLogical, true, SameMajor()).method == DbMethod::kLogical);
  CHECK(ChooseTwoPhaseMethod(DbMethod::kAuto, true, no_right).method == DbMethod::kLogical);
  CHECK(ExitCodeOf([&] { ChooseTwoPhaseMethod(DbMethod::kPhysical, true, across); }) == 2);
}

TEST_CASE("the physical copy's marker reads back as written, and a damaged one is named, not guessed") {
  mig::TempDir d("marker");
  const std::string path = d.path() + "/physical-copy.json";
  CHECK_FALSE(LoadCopyMarker(path).has_value());  // no interrupted copy
  mig::WriteFileAtomic(path, CopyMarkerJson({"app", "app\"db"}));
  const auto m = LoadCopyMarker(path);
  REQUIRE(m.has_value());
  CHECK(m->admin_user == "app");
  CHECK(m->source_db == "app\"db");
  mig::WriteFileAtomic(path, "{\"admin_user\": 7}");
  CHECK_THROWS_WITH(LoadCopyMarker(path), Catch::Contains(path + " is damaged"));
}

TEST_CASE("the copy's readiness is read from its postmaster.pid: ready, a standby, never started, stopped") {
  TempDir dir("migrate-pidfile");
  const std::string pid_file = dir.path() + "/postmaster.pid";
  const auto lines = [](const std::string& status) {
    return "42\n/var/lib/postgresql/data\n1764800000\n5432\n/var/run/postgresql\n*\n  1234   5678\n" + status + "\n";
  };
  // Written while the server starts, then ready: true once it says so.
  WriteFileAtomic(pid_file, lines("starting"));
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    WriteFileAtomic(pid_file, lines("ready   "));
  });
  CHECK(PidFileSaysReady(dir.path(), false));
  later.join();
  // A hot standby says "standby": ready for a standby copy only.
  WriteFileAtomic(pid_file, lines("standby "));
  CHECK(PidFileSaysReady(dir.path(), true));
  std::thread gone([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::filesystem::remove(pid_file);  // the server stopped
  });
  CHECK_FALSE(PidFileSaysReady(dir.path(), false));
  gone.join();
  // No file at all: false after a few seconds, not the whole wait.
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(PidFileSaysReady(dir.path(), false));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(10));
}

TEST_CASE("a copy's source is said written meanwhile only when its snapshot or a sequence moved") {
  const SourceMark before{"745:747:745", {{"public.users_id_seq", "260"}}};
  SourceMark after = before;
  CHECK_FALSE(WrittenMeanwhile(before, after));  // counts that differ then fail the copy
  after.snapshot = "745:748:745";                // a transaction that wrote committed
  CHECK(WrittenMeanwhile(before, after));
  after.snapshot = "747:747:";  // the one in progress at the start ended
  CHECK(WrittenMeanwhile(before, after));
  after = before;
  after.sequences["public.users_id_seq"] = "261";  // nextval, no transaction id
  CHECK(WrittenMeanwhile(before, after));
  CHECK_FALSE(WrittenMeanwhile(std::nullopt, after));  // unknown: not said written
}
