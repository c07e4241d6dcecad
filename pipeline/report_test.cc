// report.json and the human summary (docs/report.md).
#include "pipeline/report.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"

namespace fs = std::filesystem;

namespace mig {
namespace {

// Keeps Step's "== name" lines off the test output.
struct QuietLog {
  QuietLog() { TheLog().set_quiet(true); }
  ~QuietLog() { TheLog().set_quiet(false); }
};

Report Sample() {
  Report r;
  r.command = "migrate-local";
  r.started_at = "2024-05-01T10:00:00Z";
  r.from = "/srv/old";
  r.to = "/srv/new";
  r.migration_dir = "/srv/new/migration/20240501-100000";
  r.steps = {{"preflight", "ok", 0.25, ""}, {"merge", "ok", 1.5, "12 files"}, {"replay", "skipped", 0, "--skip-db"}};
  r.Check("stack up", true, "");
  return r;
}

}  // namespace

TEST_CASE("report json carries its format, steps and total") {
  nlohmann::json j = Sample().ToJson();
  CHECK(j["format"] == "migrate-report/1");
  CHECK(j["command"] == "migrate-local");
  CHECK(j["from"] == "/srv/old");
  CHECK(j["to"] == "/srv/new");
  CHECK(j["result"] == "running");
  CHECK(j["dry_run"] == false);
  CHECK_FALSE(j.contains("error"));
  REQUIRE(j["steps"].size() == 3);
  CHECK(j["steps"][1]["name"] == "merge");
  CHECK(j["steps"][1]["status"] == "ok");
  CHECK(j["steps"][1]["seconds"] == 1.5);
  CHECK(j["steps"][1]["detail"] == "12 files");
  CHECK(j["total_seconds"] == 1.75);
  CHECK(j["checks"][0]["name"] == "stack up");
  CHECK(j["checks"][0]["ok"] == true);
  CHECK(j["data"].is_object());
  CHECK(j["database"].is_object());
  CHECK(j["next_steps"].is_array());
}

TEST_CASE("report json carries the error when there is one") {
  Report r = Sample();
  r.result = "failed";
  r.error = "cannot open /srv/new/data";
  CHECK(r.ToJson()["error"] == "cannot open /srv/new/data");
}

TEST_CASE("step records ok with its detail when done") {
  QuietLog quiet;
  Report r;
  {
    Step s(r, "merge");
    s.Done("3 files");
  }
  REQUIRE(r.steps.size() == 1);
  CHECK(r.steps[0].name == "merge");
  CHECK(r.steps[0].status == "ok");
  CHECK(r.steps[0].detail == "3 files");
  CHECK(r.steps[0].seconds >= 0);
}

TEST_CASE("step records skipped with the reason") {
  QuietLog quiet;
  Report r;
  {
    Step s(r, "replay");
    s.Skip("--skip-db");
  }
  REQUIRE(r.steps.size() == 1);
  CHECK(r.steps[0].status == "skipped");
  CHECK(r.steps[0].detail == "--skip-db");
}

TEST_CASE("step records failed when left without Done") {
  QuietLog quiet;
  Report r;
  try {
    Step s(r, "merge");
    throw Error(ErrorKind::kFailed, "disk full");
  } catch (const Error&) {
  }
  REQUIRE(r.steps.size() == 1);
  CHECK(r.steps[0].name == "merge");
  CHECK(r.steps[0].status == "failed");
}

TEST_CASE("report write leaves valid json and no temporary file") {
  char tmpl[] = "/tmp/migrate-report-test.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  fs::path dir = tmpl;
  Report r = Sample();
  r.Write((dir / "report.json").string());
  std::ifstream in(dir / "report.json");
  nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j == r.ToJson());
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"report.json"});
  fs::remove_all(dir);
}

TEST_CASE("report write into a missing folder throws") {
  CHECK_THROWS_AS(Sample().Write("/nonexistent-migrate-dir/report.json"), Error);
}

TEST_CASE("summary names the result, the steps and the error") {
  Report r = Sample();
  r.result = "failed";
  r.error = "the target database is busy";
  r.next_steps = {"roll back with ..."};
  std::string s = r.Summary();
  CHECK(s.find("migrate-local: failed") != std::string::npos);
  CHECK(s.find("merge: ok - 12 files") != std::string::npos);
  CHECK(s.find("error: the target database is busy") != std::string::npos);
  CHECK(s.find("check stack up: ok") != std::string::npos);
  CHECK(s.find("report: /srv/new/migration/20240501-100000/report.json") != std::string::npos);
  CHECK(s.find("  - roll back with ...") != std::string::npos);
}

TEST_CASE("summary of a dry run says nothing was changed and names no report") {
  Report r = Sample();
  r.dry_run = true;
  std::string s = r.Summary();
  CHECK(s.find("dry run: nothing was changed") != std::string::npos);
  CHECK(s.find("report:") == std::string::npos);
}

TEST_CASE("human bytes picks a binary unit") {
  CHECK(HumanBytes(0) == "0 B");
  CHECK(HumanBytes(1023) == "1023 B");
  CHECK(HumanBytes(1024) == "1.0 KiB");
  CHECK(HumanBytes(1536) == "1.5 KiB");
  CHECK(HumanBytes(5ull << 30) == "5.0 GiB");
  CHECK(HumanBytes(3ull << 40) == "3.0 TiB");
  CHECK(HumanBytes(1ull << 50) == "1024.0 TiB");
}

}  // namespace mig
