#include "restic/restic.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "tests/test_data.h"

using namespace mig;
using namespace mig::restic;

TEST_CASE("restic: the version line of Debian's 0.14") {
  auto v = ParseVersion(TestData("restic/version.txt"));
  REQUIRE(v);
  CHECK(v->text() == "0.14.0");
  CHECK(v->at_least(0, 14));
  CHECK_FALSE(v->at_least(0, 16));
  CHECK_FALSE(ParseVersion("bash: restic: command not found"));
}

TEST_CASE("restic: snapshots --json, with their tags") {
  auto snaps = ParseSnapshots(TestData("restic/snapshots.json"));
  REQUIRE(snaps.size() == 2);
  CHECK(snaps[1].short_id == "b2d6a102");
  CHECK(snaps[1].hostname == "h1");
  CHECK(snaps[0].time == "2026-11-30T21:00:00Z");
  CHECK(snaps[0].tag("migrate:id") == "ab12");
  CHECK(snaps[0].tag("migrate:part") == "db");
  CHECK(snaps[0].tag("migrate:ts").empty());
  CHECK(snaps[0].paths == std::vector<std::string>{"/db.dump"});
  CHECK(ParseSnapshots("null").empty());
  CHECK(ParseSnapshots("[]").empty());
  CHECK_THROWS_AS(ParseSnapshots("Fatal: not json"), Error);
}

TEST_CASE("restic: ls --json nodes, their modes and times to the nanosecond") {
  std::vector<LsNode> nodes;
  std::istringstream in(TestData("restic/tree.jsonl"));
  std::string line;
  int snapshots = 0;
  while (std::getline(in, line)) {
    auto n = ParseLsLine(line);
    if (n) nodes.push_back(*n);
    else ++snapshots;
  }
  CHECK(snapshots == 1);
  REQUIRE(nodes.size() == 13);
  auto node = [&](const std::string& path) {
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const LsNode& n) { return n.path == path; });
    REQUIRE(it != nodes.end());
    return *it;
  };
  const LsNode index = node("/data/index.html");
  CHECK(index.type == "file");
  CHECK(index.size == 5);
  CHECK(index.perm == 04755);  // Go's setuid bit
  CHECK(index.mtime.tv_sec == 1577934245);
  CHECK(index.mtime.tv_nsec == 123456789);
  CHECK(node("/data/sub").perm == 0755);
  CHECK(node("/data/sub").mtime.tv_nsec == 500000000);
  CHECK(node("/data/pipe").type == "fifo");
  CHECK(node("/data/sub/photo.jpg").uid == 54321);
  CHECK(node("/data/caf\xEF\xBF\xBD").size == 24);  // Go's JSON: U+FFFD for the byte that is not UTF-8
  CHECK(node("/data/new\nline \\ ünï").size == 28);
  // A time in another zone, one without a fraction; what is not one.
  const struct timespec east = ParseTime("2020-01-02T04:04:05.5+01:00"), west = ParseTime("2020-01-01T23:34:05-03:30");
  CHECK(east.tv_sec == 1577934245);
  CHECK(east.tv_nsec == 500000000);
  CHECK(west.tv_sec == 1577934245);
  CHECK(west.tv_nsec == 0);
  CHECK_THROWS_WITH(ParseTime("yesterday"), Catch::Contains("restic wrote a time migrate cannot read"));
  CHECK_THROWS_WITH(ParseLsLine("{\"struct_type\":\"node\",\"type\":\"file\"}"), Catch::Contains("cannot read"));
  CHECK_THROWS_WITH(ParseLsLine("{\"struct_type\":\"other\"}"), Catch::Contains("neither a snapshot nor a node"));
}

TEST_CASE("restic: backup --json, status lines and the summary") {
  std::istringstream in(TestData("restic/backup.jsonl"));
  std::string line;
  std::optional<BackupStatus> status;
  std::optional<BackupSummary> summary;
  while (std::getline(in, line)) ParseBackupLine(line, status, summary);
  REQUIRE(status);
  CHECK(status->total_bytes == 6);
  REQUIRE(summary);
  CHECK(summary->snapshot_id == "9b53893a");
  CHECK(summary->files_new == 2);
  CHECK(summary->total_bytes == 9);
  std::optional<BackupSummary> none;
  ParseBackupLine("scan finished", status, none);
  ParseBackupLine("{broken", status, none);
  CHECK_FALSE(none);
}

TEST_CASE("restic: each failure of 0.14 gets its kind") {
  CHECK(Diagnose(TestData("restic/wrong_password.txt")).kind == Failure::kWrongPassword);
  CHECK(Diagnose(TestData("restic/no_password.txt")).kind == Failure::kNoPassword);
  CHECK(Diagnose(TestData("restic/no_repository.txt")).kind == Failure::kNoRepository);
  // A backend that does not answer also asks "Is there a repository?": it is not a missing one.
  CHECK(Diagnose(TestData("restic/s3_refused.txt")).kind == Failure::kUnreachable);
  CHECK(Diagnose(TestData("restic/rest_refused.txt")).kind == Failure::kUnreachable);
  CHECK(Diagnose(TestData("restic/sftp_failed.txt")).kind == Failure::kUnreachable);
  auto locked = Diagnose(TestData("restic/locked.txt"));
  CHECK(locked.kind == Failure::kLocked);
  CHECK(locked.detail == "PID 18654 on vm by root, since 2026-12-01 05:00:27 (44.703264ms ago)");
  CHECK(Diagnose("Fatal: something new").kind == Failure::kOther);
  CHECK(Diagnose("Fatal: something new").detail == "something new");
}

TEST_CASE("restic: failures become one sentence with the right exit code") {
  Repo repo{"/srv/backups", "", {}};
  auto code = [&](const char* file) {
    try {
      Throw(Diagnose(TestData(file)), repo, "list the snapshots");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("/srv/backups") != std::string::npos);
      return e.exit_code();
    }
    return 0;
  };
  CHECK(code("restic/wrong_password.txt") == 2);
  CHECK(code("restic/no_repository.txt") == 2);
  CHECK(code("restic/no_password.txt") == 2);
  CHECK(code("restic/s3_refused.txt") == 1);
  CHECK(code("restic/locked.txt") == 1);
}

TEST_CASE("restic: a snapshot's tags, time and host as arguments") {
  SnapshotMeta m{{"migrate", "migrate:id=ab12"}, "2026-11-30 21:00:00", "app-1"};
  CHECK(MetaArgs(m) == std::vector<std::string>{"--tag", "migrate", "--tag", "migrate:id=ab12", "--time",
                                                "2026-11-30 21:00:00", "--host", "app-1"});
}

// The real restic (a test package): a stream started before restic is ready is held, and a
// restic that finds no repository is started again once it was made; nothing of the stream lost.
TEST_CASE("restic: a stream written at once into a repository made on demand arrives whole") {
  TempDir dir("restic-test");
  std::ofstream(dir.path() + "/pw") << "test password\n";
  Restic r(Repo{dir.path() + "/repo", dir.path() + "/pw", {}});
  std::string data;
  for (uint32_t i = 0; data.size() < (5u << 20); ++i) data += std::to_string(i * 2654435761u) + "\n";
  int made = 0;
  auto out = r.BackupStdin("stream.txt", {{"test"}, "", ""}, [&] {
    ++made;
    r.Init();
  });
  for (size_t at = 0; at < data.size(); at += 65536) out->write(data.data() + at, std::min<size_t>(65536, data.size() - at));
  const BackupSummary sum = out->Finish();
  CHECK(made == 1);
  REQUIRE_FALSE(sum.snapshot_id.empty());
  auto back = r.Dump(sum.snapshot_id, "/stream.txt");
  std::string got;
  char buf[65536];
  for (size_t n; (n = back->read(buf, sizeof buf)) > 0;) got.append(buf, n);
  CHECK(back->wait() == 0);
  CHECK(got == data);

  // A wrong password: the stream is held (no restart helps), then one sentence (exit 2) from
  // Finish and from every later call.
  std::ofstream(dir.path() + "/wrong") << "wrong\n";
  Restic wrong(Repo{dir.path() + "/repo", dir.path() + "/wrong", {}});
  auto refused = wrong.BackupStdin("stream.txt", {{"test"}, "", ""});
  refused->write(data.data(), 65536);
  CHECK_THROWS_WITH(refused->Finish(), Catch::Contains("password does not open"));
  CHECK_THROWS_WITH(refused->write(data.data(), 1), Catch::Contains("password does not open"));
  try {
    refused->Finish();
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
  }
}

// The real restic: an excluded path is left out exactly, in a folder whose name has glob
// characters (escaped in restic's pattern), and a folder of the same name deeper is kept.
TEST_CASE("restic: backup leaves out exactly the excluded paths") {
  TempDir dir("restic-test");
  std::ofstream(dir.path() + "/pw") << "test password\n";
  Restic r(Repo{dir.path() + "/repo", dir.path() + "/pw", {}});
  r.Init();
  const std::string inst = dir.path() + "/in[1]*?";
  std::filesystem::create_directories(inst + "/data/.migrate-restore/data");
  std::filesystem::create_directories(inst + "/data/sub/.migrate-restore");
  std::ofstream(inst + "/data/keep") << "kept";
  std::ofstream(inst + "/data/.migrate-restore/data/half") << "half-restored";
  std::ofstream(inst + "/data/sub/.migrate-restore/mine") << "the app's";
  const BackupSummary sum = r.Backup(inst, {"data"}, {{"test"}, "", ""}, {"data/.migrate-restore"});
  r.Restore(sum.snapshot_id, dir.path() + "/back", {}, {});
  CHECK(*ReadSmallFile(dir.path() + "/back/data/keep") == "kept");
  CHECK(*ReadSmallFile(dir.path() + "/back/data/sub/.migrate-restore/mine") == "the app's");
  CHECK_FALSE(std::filesystem::exists(dir.path() + "/back/data/.migrate-restore"));
}
