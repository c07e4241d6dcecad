#include "core/job_lock.h"

#include <catch2/catch.hpp>
#include <optional>

#include "core/error.h"
#include "core/files.h"

using namespace mig;

TEST_CASE("job lock: a second job is refused naming the first, and a released lock is nobody's") {
  TempDir tmp("joblock-test");
  const std::string path = tmp.path() + "/backup/.lock";
  CHECK_FALSE(JobLock::Holder(path));
  std::optional<JobLock> first;
  first.emplace(path, "another backup runs on this install");
  first->Describe("backup 3fa85f64 2026-11-30t21-00-00");
  auto holder = JobLock::Holder(path);
  REQUIRE(holder);
  CHECK(holder->rfind("backup 3fa85f64 2026-11-30t21-00-00, pid ", 0) == 0);
  try {
    JobLock second(path, "another backup runs on this install");
    FAIL("the second lock was taken");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("another backup runs on this install (backup 3fa85f64") == 0);
  }
  // Asking who holds it does not take it: the holder keeps it.
  CHECK(JobLock::Holder(path));
  first.reset();
  CHECK_FALSE(JobLock::Holder(path));
  JobLock again(path, "refused");
  CHECK(JobLock::Holder(path));
}

TEST_CASE("job lock: a holder that never let go (killed) is named to the next one") {
  TempDir tmp("joblock-test");
  const std::string path = tmp.path() + "/.lock";
  {
    JobLock first(path, "refused");
    CHECK(first.abandoned().empty());  // none ran before
    first.Describe("backup 3fa85f64 2026-11-30t21-00-00");
  }
  {
    JobLock second(path, "refused");
    CHECK(second.abandoned().empty());  // the first ended and let go
  }
  // kill -9: the kernel drops the lock and the description stays, as written here by hand.
  WriteFileAtomic(path, "backup 3fa85f64 2026-11-30t21-00-00, pid 4242, since 2026-11-30T21:00:00Z\n");
  JobLock third(path, "refused");
  CHECK(third.abandoned() == "backup 3fa85f64 2026-11-30t21-00-00, pid 4242, since 2026-11-30T21:00:00Z");
}
