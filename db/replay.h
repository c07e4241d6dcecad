// Full replacement of the target database by the source's (see docs/migrate-local.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "db/dump.h"
#include "db/postgres.h"

namespace mig::db {

// What a replay did and found.
struct ReplayResult {
  DbState source;                        // what the dump holds (counted in its own snapshot)
  DbState target;                        // counted in the replayed database
  std::vector<std::string> mismatches;   // empty when verified
  std::vector<std::string> roles_created;
  uint64_t dump_bytes = 0;               // bytes streamed from pg_dump to pg_restore
  // Where the time went, step by step ("snapshot", "prepare", "dump_restore", "verify", "swap").
  std::vector<std::pair<std::string, double>> timings;
};

struct ReplayOptions {
  std::function<void(uint64_t bytes)> progress;  // bytes streamed so far
  // Leave the target's previous database, renamed RetiredName(db), for DropRetired(): its
  // DROP costs a checkpoint (half a second even when small) that the caller can overlap with
  // the restart.
  bool keep_retired = false;
  // Called once the replayed database is verified, before it is swapped in: a throw stops the
  // replay with the target untouched (a restore waits there for its data/ part).
  std::function<void()> before_swap;
  // Called before each of the replay's phases (roles, staging and the stream, verification): a
  // throw stops it with the target database untouched (a replay beside a merge that failed).
  std::function<void()> keep_going;
  // The target's session to its "postgres" database, started ahead (else one is opened here).
  std::shared_ptr<OpeningSession> admin;
};

// Drops the database a replay with keep_retired left behind (nothing when there is none).
// `detach`: started inside the container (docker exec -d) and not waited for; a drop that
// fails there leaves it for the next replay, which drops it before its swap. Throws mig::Error
// naming it when the drop (or, detached, its start) fails.
void DropRetired(const Postgres& dst, bool detach);

// Replays `src` into `dst`: its roles, a staging database with its locale, its dump streamed
// into pg_restore there, verified against the rows and sequences it says it holds, swapped in
// under the target's name. On any failure before the swap the target database is untouched
// and the staging database is dropped; throws mig::Error naming the step.
ReplayResult Replay(DumpSource& src, const Postgres& dst, const ReplayOptions& opts);

// The staging and retired database names used for `db`.
std::string StagingName(const std::string& db);
std::string RetiredName(const std::string& db);

// After an interrupted swap (the target database missing, the retired one present), puts
// the retired database back under its name. Returns true when it did.
bool RepairInterruptedSwap(const Postgres& dst);

}  // namespace mig::db
