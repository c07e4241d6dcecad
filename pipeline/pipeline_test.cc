// The pipeline's order and failure paths, on programs replayed from a recorded real migration
// (tests/data/pipeline/record.sh): no docker needed.
#include "pipeline/pipeline.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"
#include "core/recorded_host.h"
#include "pipeline/run_state.h"
#include "tests/test_data.h"

namespace fs = std::filesystem;
using namespace mig;

namespace {

// The recorded installs copied under a private root, and the replaying host in place.
struct Replayed {
  TempDir root{"pipeline-test"};
  ReplayHost host{TestDataPath("pipeline/migrate-local.jsonl"), root.path()};
  ThisHostOverride use{host};
  std::string from = root.path() + "/releases/1.0.0", to = root.path() + "/releases/2.0.0";
  Replayed() {
    ::setenv("XDG_CACHE_HOME", (root.path() + "/cache").c_str(), 1);  // compose's version is cached there
    fs::create_directories(root.path() + "/releases");
    fs::copy(TestDataPath("pipeline/installs"), root.path() + "/releases",
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }
  Options Opts() const {
    Options o;
    o.from_path = from;
    o.to_path = to;
    o.yes = o.quiet = true;
    return o;
  }
  bool Asked(const std::string& needle) const {
    for (const auto& c : host.calls())
      if (c.find(needle) != std::string::npos) return true;
    return false;
  }
  bool Sent(const std::string& needle) const {
    for (const auto& c : host.inputs())
      if (c.find(needle) != std::string::npos) return true;
    return false;
  }
  nlohmann::json RunReport() const {
    for (const auto& e : fs::directory_iterator(to + "/migration"))
      if (fs::exists(e.path() / "report.json"))
        return nlohmann::json::parse(*ReadSmallFile((e.path() / "report.json").string()));
    return nullptr;
  }
};

std::vector<std::string> StepNames(const Report& r) {
  std::vector<std::string> names;
  for (const auto& s : r.steps) names.push_back(s.name);
  return names;
}

}  // namespace

TEST_CASE("a migration runs its steps in order and merges data/ with rsync -a rules") {
  Replayed t;
  Report r = RunMigration(t.Opts());
  for (const auto& m : t.host.misses()) UNSCOPED_INFO(m);
  CHECK(t.host.misses().empty());
  CHECK(r.result == "ok");
  CHECK(StepNames(r) ==
        std::vector<std::string>{"connect", "preflight", "safety copy", "merge data/", "replay database", "restart"});
  CHECK(*ReadSmallFile(t.to + "/data/index.html") == "old index\n");
  CHECK(*ReadSmallFile(t.to + "/data/target-only/keep.me") == "kept\n");
  CHECK(fs::read_symlink(t.to + "/data/latest") == "uploads");
  CHECK_FALSE(fs::exists(t.to + "/migration/in-progress"));
  CHECK(t.RunReport()["result"] == "ok");
  CHECK(t.Sent("ALTER DATABASE \"appdb\" RENAME TO"));  // the swap: what a failed replay must never reach
  CHECK(r.database["beside_merge"] == true);            // filled and verified while data/ was merged
}

namespace {

// Sets or clears a file's immutable attribute (chattr +i): not even root renames over it.
bool SetImmutable(const std::string& path, bool on) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
  ok = ok && ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

TEST_CASE("a data/ merge that fails stops the replay beside it before its swap") {
  Replayed t;
  const std::string pinned = t.to + "/data/index.html";  // the merge replaces it: its rename fails
  if (!SetImmutable(pinned, true)) {
    WARN("this file system keeps no immutable attribute (chattr +i): the merge cannot be made to fail here");
    return;
  }
  struct Unpin {
    std::string path;
    ~Unpin() { SetImmutable(path, false); }
  } unpin{pinned};
  CHECK_THROWS_WITH(RunMigration(t.Opts()), Catch::Contains("index.html"));
  CHECK_FALSE(t.Sent("ALTER DATABASE \"appdb\""));  // the target database never swapped
  // A staging database the replay made meanwhile (it may have stopped before) is dropped after.
  int last_create = -1, last_drop = -1, i = 0;
  for (const auto& in : t.host.inputs()) {
    if (in.find("CREATE DATABASE \"appdb__migrate_new\"") != std::string::npos) last_create = i;
    else if (in.find("DROP DATABASE IF EXISTS \"appdb__migrate_new\"") != std::string::npos) last_drop = i;
    ++i;
  }
  if (last_create >= 0) CHECK(last_drop > last_create);
  CHECK_FALSE(t.Asked(" up -d"));
  CHECK(*ReadSmallFile(pinned) == "new index (replaced)\n");
  const nlohmann::json rep = t.RunReport();
  CHECK(rep["result"] == "failed");
  CHECK(rep["error"].get<std::string>().find("index.html") != std::string::npos);  // the merge's error, not the replay's
  bool replay_recorded = false;
  for (const auto& st : rep["steps"]) replay_recorded = replay_recorded || st["name"] == "replay database";
  CHECK_FALSE(replay_recorded);
}

TEST_CASE("a failed replay leaves the target database untouched and the report says how to roll back") {
  Replayed t;
  t.host.AddFault({[](const std::vector<std::string>& argv) {
                     return std::find(argv.begin(), argv.end(), "pg_restore") != argv.end();
                   },
                   1, "pg_restore: error: could not write to the staging database: disk full"});
  CHECK_THROWS_WITH(RunMigration(t.Opts()), Catch::Contains("disk full"));
  // The target's own database was never renamed or dropped: only the staging one was touched.
  CHECK(t.Sent("__migrate_new"));
  CHECK_FALSE(t.Sent("ALTER DATABASE \"appdb\""));  // neither renamed nor closed to connections
  CHECK_FALSE(t.Asked(" up -d"));  // not restarted
  nlohmann::json rep = t.RunReport();
  CHECK(rep["result"] == "failed");
  std::string next = rep["next_steps"].dump();
  CHECK(next.find("target-db.dump") != std::string::npos);
  CHECK(next.find("data.backup") != std::string::npos);
  CHECK(next.find("again resumes this migration") != std::string::npos);
  CHECK(fs::exists(t.to + "/migration/in-progress"));
}

TEST_CASE("a restart that fails still records the previous database's drop that could not start") {
  Replayed t;
  t.host.AddFault({[](const std::vector<std::string>& argv) {  // the detached DROP of the retired database
                     return argv.size() > 2 && argv[0] == "docker" && argv[1] == "exec" && argv[2] == "-d";
                   },
                   1, "Error response from daemon: container is restarting"});
  t.host.AddFault({[](const std::vector<std::string>& argv) {
                     return std::find(argv.begin(), argv.end(), "up") != argv.end();
                   },
                   1, "ERROR: for web  Cannot start service web: port is already allocated"});
  CHECK_THROWS_WITH(RunMigration(t.Opts()), Catch::Contains("port is already allocated"));
  const nlohmann::json rep = t.RunReport();
  CHECK(rep["result"] == "failed");
  bool recorded = false;
  for (const auto& c : rep["checks"])
    if (c["name"] == "previous database dropped" && c["ok"] == false) recorded = true;
  CHECK(recorded);
}

TEST_CASE("a safety dump of the target that fails while data/ is merged stops the run before the swap") {
  Replayed t;
  t.host.AddFault({[](const std::vector<std::string>& argv) {
                     const bool dump = std::find(argv.begin(), argv.end(), "pg_dump") != argv.end();
                     const bool source = std::any_of(argv.begin(), argv.end(),
                                                     [](const std::string& a) { return a.rfind("--snapshot", 0) == 0; });
                     return dump && !source;  // the target's, taken on a thread beside the merge
                   },
                   1, "pg_dump: error: could not write to output file: No space left on device"});
  CHECK_THROWS_WITH(RunMigration(t.Opts()), Catch::Contains("No space left on device"));
  CHECK_FALSE(t.Sent("ALTER DATABASE \"appdb\""));  // the target database was never swapped
  CHECK_FALSE(t.Asked(" up -d"));
  nlohmann::json rep = t.RunReport();
  CHECK(rep["result"] == "failed");
  CHECK(rep["next_steps"].dump().find("target-db.dump") == std::string::npos);  // not offered: it is not whole
  for (const auto& e : fs::directory_iterator(t.to + "/migration"))
    if (fs::exists(e.path() / "state.json")) CHECK_FALSE(RunState::Load((e.path() / "state.json").string()).dump_done);
}

// A fault on the first psql session to database `db` (one started ahead, before the merge): it
// dies as a server that closed it; `*count` counts such sessions.
static ReplayHost::Fault FirstSessionDies(const std::string& db, std::shared_ptr<int> count) {
  return {[db, count](const std::vector<std::string>& argv) {
            const bool session = std::find(argv.begin(), argv.end(), "-i") != argv.end() &&
                                 std::find(argv.begin(), argv.end(), "psql") != argv.end() && argv.back() == db;
            return session && (*count)++ == 0;
          },
          2, "psql: error: connection to server on socket failed: server closed the connection"};
}

TEST_CASE("a source session started ahead that failed meanwhile is opened again for the snapshot") {
  Replayed t;
  auto sessions = std::make_shared<int>(0);
  t.host.AddFault(FirstSessionDies("appdb", sessions));
  Report r = RunMigration(t.Opts());
  CHECK(r.result == "ok");
  CHECK(*sessions == 2);  // the failed one and the one opened for the snapshot
  CHECK(t.Asked("--snapshot="));
}

TEST_CASE("a target session started ahead that died meanwhile is opened again for the replay") {
  Replayed t;
  auto sessions = std::make_shared<int>(0);
  t.host.AddFault(FirstSessionDies("postgres", sessions));
  Report r = RunMigration(t.Opts());
  CHECK(r.result == "ok");
  CHECK(*sessions == 2);  // the dead one and the one opened for the replay
  CHECK(t.Sent("ALTER DATABASE"));  // swapped in
}

TEST_CASE("a damaged state.json never deletes data.backup and changes nothing") {
  Replayed t;
  const std::string run = t.to + "/migration/20261201-000000";
  fs::create_directories(run + "/data.backup");
  std::ofstream(run + "/data.backup/only-copy") << "precious";
  WriteFileAtomic(t.to + "/migration/in-progress", "20261201-000000\n");
  WriteFileAtomic(run + "/state.json", "{\"data_backup\": tr");
  CHECK_THROWS_WITH(RunMigration(t.Opts()), Catch::Contains("state.json is damaged"));
  CHECK(*ReadSmallFile(run + "/data.backup/only-copy") == "precious");
  CHECK(*ReadSmallFile(t.to + "/data/index.html") == "new index (replaced)\n");
  CHECK_FALSE(t.Asked("pg_dump"));
}

TEST_CASE("a dry run plans and changes nothing") {
  Replayed t;
  Options o = t.Opts();
  o.dry_run = true;
  Report r = RunMigration(o);
  CHECK(r.result == "ok");
  CHECK(StepNames(r) == std::vector<std::string>{"connect", "preflight", "plan data/", "plan database"});
  CHECK(r.data["plan"]["create"].get<int>() > 0);
  CHECK(*ReadSmallFile(t.to + "/data/index.html") == "new index (replaced)\n");
  CHECK_FALSE(fs::exists(t.to + "/migration"));
}

TEST_CASE("two releases that are one compose project on one engine are refused before anything changes") {
  Replayed t;
  Options o = t.Opts();
  o.to_project = "migtestrecord100";  // the old release's name
  CHECK_THROWS_WITH(RunMigration(o), Catch::Contains("are one compose project (migtestrecord100)"));
  CHECK_FALSE(t.Asked("stop"));
  CHECK_FALSE(t.Asked("pg_dump"));
  for (const auto& e : fs::directory_iterator(t.to + "/migration")) CHECK_FALSE(e.is_directory());  // no run began
}
