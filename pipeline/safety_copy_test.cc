#include "pipeline/safety_copy.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>

#include "core/error.h"
#include "core/files.h"
#include "pipeline/run_state.h"

namespace fs = std::filesystem;
using namespace mig;

namespace {

// A run folder and a target data/ with one file.
struct Fixture {
  TempDir tmp{"safety-test"};
  std::string run = tmp.path() + "/migration/20261201-000000";
  std::string data = tmp.path() + "/data";
  int dumps = 0;
  Fixture() {
    fs::create_directories(run);
    fs::create_directories(data + "/sub");
    std::ofstream(data + "/sub/file") << "target's file";
  }
  SafetyCopyInput Input() {
    SafetyCopyInput in;
    in.run_dir = run;
    in.data_dir = data;
    in.dump_target = [this](const std::string& path) {
      ++dumps;
      std::ofstream(path) << "dump";
      return uint64_t{4};
    };
    return in;
  }
  std::string Backup() const { return run + "/data.backup"; }
};

}  // namespace

TEST_CASE("safety copy of a new run keeps data.backup and the dump and records both durably") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  RunState st;
  SafetyCopyResult r = SafetyCopy(f.Input(), st);
  CHECK(r.backup_done);
  CHECK(r.dump_done);
  CHECK(f.dumps == 1);
  CHECK(*ReadSmallFile(f.Backup() + "/sub/file") == "target's file");
  CHECK_FALSE(fs::exists(f.Backup() + ".partial"));
  RunState saved = RunState::Load(f.run + "/state.json");
  CHECK(saved.backup_done);
  CHECK(saved.dump_done);
}

TEST_CASE("a resumed run reuses data.backup and the dump instead of snapshotting a half-merged target") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  RunState st;
  SafetyCopy(f.Input(), st);
  std::ofstream(f.data + "/sub/.tmp") << "half-merged";  // the interrupted merge replaced it (never in place)
  fs::rename(f.data + "/sub/.tmp", f.data + "/sub/file");
  SafetyCopyResult r = SafetyCopy(f.Input(), st);
  CHECK(r.backup_reused);
  CHECK(r.dump_reused);
  CHECK(f.dumps == 1);
  CHECK(*ReadSmallFile(f.Backup() + "/sub/file") == "target's file");
}

TEST_CASE("a damaged state.json stops the run and never deletes data.backup") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  RunState st;
  SafetyCopy(f.Input(), st);
  const std::string before = *ReadSmallFile(f.Backup() + "/sub/file");
  for (const char* damage : {"{\"data_backup\": tru", "", "[]", "{\"data_backup\": 1, \"target_dump\": true}"}) {
    CAPTURE(damage);
    WriteFileAtomic(f.run + "/state.json", damage);
    CHECK_THROWS_WITH(SafetyCopy(f.Input(), st), Catch::Contains("state.json is damaged"));
    REQUIRE(fs::is_directory(f.Backup()));
    CHECK(*ReadSmallFile(f.Backup() + "/sub/file") == before);
    CHECK(f.dumps == 1);
  }
}

TEST_CASE("a data.backup with no state.json to vouch for it stops the run and is kept") {
  Fixture f;
  fs::create_directories(f.Backup());
  std::ofstream(f.Backup() + "/only-copy") << "precious";
  RunState st;
  CHECK_THROWS_WITH(SafetyCopy(f.Input(), st), Catch::Contains("does not say what it holds"));
  CHECK(*ReadSmallFile(f.Backup() + "/only-copy") == "precious");
}

TEST_CASE("an unfinished snapshot (data.backup.partial) is rebuilt; a finished one whose state was not saved is kept") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  fs::create_directories(f.Backup() + ".partial/stale");
  RunState st;
  SafetyCopy(f.Input(), st);
  CHECK_FALSE(fs::exists(f.Backup() + ".partial"));
  CHECK_FALSE(fs::exists(f.Backup() + "/stale"));
  CHECK(fs::exists(f.Backup() + "/sub/file"));

  // Crash after the rename, before state.json said so: the rename means complete.
  Fixture g;
  RunState{}.Save(g.run + "/state.json");
  fs::create_directories(g.Backup());
  std::ofstream(g.Backup() + "/from-before-the-crash") << "x";
  SafetyCopyResult r = SafetyCopy(g.Input(), st);
  CHECK(r.backup_reused);
  CHECK(fs::exists(g.Backup() + "/from-before-the-crash"));
  CHECK(RunState::Load(g.run + "/state.json").backup_done);
}

TEST_CASE("a failed dump leaves the state saying the data part only") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  SafetyCopyInput in = f.Input();
  in.dump_target = [](const std::string&) -> uint64_t { Fail("pg_dump of the target database failed: boom"); };
  RunState st;
  CHECK_THROWS_WITH(SafetyCopy(in, st), Catch::Contains("boom"));
  RunState saved = RunState::Load(f.run + "/state.json");
  CHECK(saved.backup_done);
  CHECK_FALSE(saved.dump_done);
  CHECK(st.backup_done);
}

TEST_CASE("with dump_later the step returns while the dump is taken, and the wait records it") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  SafetyCopyInput in = f.Input();
  in.dump_later = true;
  std::promise<void> go;
  std::shared_future<void> released = go.get_future().share();
  in.dump_target = [released](const std::string& path) {
    released.wait();
    std::ofstream(path) << "dump";
    return uint64_t{4};
  };
  RunState st;
  SafetyCopyResult r = SafetyCopy(in, st);
  REQUIRE(r.pending);
  CHECK(r.backup_done);
  CHECK_FALSE(r.dump_done);
  CHECK_FALSE(RunState::Load(f.run + "/state.json").dump_done);  // a crash now: the resumed run dumps again
  CHECK(RunState::Load(f.run + "/state.json").backup_done);
  go.set_value();
  CHECK(r.pending->Wait() == 4);
  CHECK(r.pending->Wait() == 4);
  CHECK(RunState::Load(f.run + "/state.json").dump_done);
  CHECK(st.dump_done);
}

TEST_CASE("with dump_later a failed dump is thrown by the wait and the state does not claim it") {
  Fixture f;
  RunState{}.Save(f.run + "/state.json");
  SafetyCopyInput in = f.Input();
  in.dump_later = true;
  in.dump_target = [](const std::string&) -> uint64_t { Fail("pg_dump of the target database failed: boom"); };
  RunState st;
  SafetyCopyResult r = SafetyCopy(in, st);
  REQUIRE(r.pending);
  CHECK_THROWS_WITH(r.pending->Wait(), Catch::Contains("boom"));
  CHECK_THROWS_WITH(r.pending->Wait(), Catch::Contains("boom"));  // the run's failure path asks again
  CHECK_FALSE(RunState::Load(f.run + "/state.json").dump_done);
}

TEST_CASE("with dump_later a dump whose record cannot be saved is a failure, the same on every wait") {
  std::promise<uint64_t> done;
  done.set_value(42);
  RunState st;
  PendingDump pending(done.get_future(), "/nonexistent-folder-of-migrate-tests/state.json", st);
  CHECK_THROWS_WITH(pending.Wait(), Catch::Contains("cannot write /nonexistent-folder-of-migrate-tests/state.json"));
  CHECK_THROWS_WITH(pending.Wait(), Catch::Contains("cannot write /nonexistent-folder-of-migrate-tests/state.json"));
  CHECK_FALSE(st.dump_done);
}

TEST_CASE("state.json keeps when a two-phase downtime began, and a resumed run reads it back") {
  Fixture f;
  RunState st;
  st.backup_done = true;
  st.downtime_began = "2026-12-02T15:00:00Z";
  st.downtime_began_epoch = 1796223600.5;
  st.Save(f.run + "/state.json");
  const RunState back = RunState::Load(f.run + "/state.json");
  CHECK(back.downtime_began == "2026-12-02T15:00:00Z");
  CHECK(back.downtime_began_epoch == 1796223600.5);
  CHECK(RunState::Load(f.run + "/absent.json").downtime_began.empty());
  WriteFileAtomic(f.run + "/state.json",
                  "{\"data_backup\": true, \"target_dump\": true, \"downtime_began\": \"2026-12-02T15:00:00Z\"}");
  CHECK_THROWS_WITH(RunState::Load(f.run + "/state.json"), Catch::Contains("downtime_began"));
}
