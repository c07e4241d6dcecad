// A standby's state survives as written, and a damaged one is never read as "not promoted".
#include "install/standby.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

namespace mig {

TEST_CASE("standby state: absent, written and read back, promoted") {
  TempDir t;
  CHECK_FALSE(ReadStandbyState(t.path()).has_value());
  StandbyState s;
  s.backup_id = "3fa85f64", s.timestamp = "2026-11-30t21-00-00", s.version = "1.0.0";
  s.restored_at = "2026-11-30T21:05:00Z";
  WriteStandbyState(t.path(), s);
  auto back = ReadStandbyState(t.path());
  REQUIRE(back.has_value());
  CHECK(back->backup_id == "3fa85f64");
  CHECK(back->timestamp == "2026-11-30t21-00-00");
  CHECK_FALSE(back->promoted());
  s.promoted_at = "2026-12-01T10:00:00Z";
  WriteStandbyState(t.path(), s);
  CHECK(ReadStandbyState(t.path())->promoted_at == "2026-12-01T10:00:00Z");
}

TEST_CASE("standby state: a damaged file is an error, not a standby never promoted") {
  TempDir t;
  StandbyState s;
  s.backup_id = "3fa85f64", s.timestamp = "2026-11-30t21-00-00", s.promoted_at = "2026-12-01T10:00:00Z";
  WriteStandbyState(t.path(), s);
  for (const char* text : {"{\"backup_id\": \"3fa8", "", "{\"backup_id\": \"x\", \"timestamp\": \"t\"}", "[]"}) {
    WriteFileAtomic(StandbyStatePath(t.path()), text);
    CHECK_THROWS_AS(ReadStandbyState(t.path()), Error);
  }
}

}  // namespace mig
