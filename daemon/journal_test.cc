#include "daemon/journal.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

using namespace mig;
using namespace mig::daemon;

TEST_CASE("journal: a job started and never ended is found at the next start") {
  TempDir tmp("journal-test");
  const std::string path = tmp.path() + "/state/jobs.jsonl";
  {
    Journal j(path);
    uint64_t a = j.Started("backup", "2026-11-30t21-00-00", "3fa85f64", 100);
    j.Ended(a, "ready", "");
    j.Started("restore", "2026-11-30t21-00-00", "3fa85f64", 101);  // kill -9 here
  }
  Journal again(path);
  auto open = again.Unfinished();
  REQUIRE(open.size() == 1);
  CHECK(open[0].kind == "restore");
  CHECK(open[0].pid == 101);
  again.Ended(open[0].seq, "failed", "the daemon stopped while it ran", true);
  CHECK(Journal(path).Unfinished().empty());
  CHECK(Journal(path).events().back().interrupted);
}

TEST_CASE("journal: a torn last line is dropped, a damaged one before it refused") {
  TempDir tmp("journal-test");
  const std::string path = tmp.path() + "/jobs.jsonl";
  {
    Journal j(path);
    j.Started("backup", "2026-11-30t21-00-00", "3fa85f64", 100);
  }
  {
    std::ofstream(path, std::ios::app) << "{\"seq\": 2, \"event\": \"end";  // a crash mid-write
  }
  {
    Journal j(path);
    CHECK(j.events().size() == 1);
    CHECK(j.Unfinished().size() == 1);
    j.Ended(1, "failed", "interrupted", true);  // where the torn line was
  }
  CHECK(Journal(path).events().size() == 2);
  CHECK(Journal(path).Unfinished().empty());
  // A damaged line that is not the last (not a crash: an edit) is refused, naming it.
  {
    std::ofstream(path, std::ios::app) << "garbage\n{\"seq\": 9, \"event\": \"ended\", \"of\": 1, \"status\": \"failed\"}\n";
  }
  try {
    Journal j(path);
    FAIL("a damaged line was read");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("jobs.jsonl:3: a damaged journal line") != std::string::npos);
  }
}
