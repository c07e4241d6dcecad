// The database step: the source database replaces the target's (db/replay.h), verified
// before it is swapped in; recorded in the report with its timings and wire bytes.
#pragma once

#include <future>

#include "db/replay.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// What the replay step leaves running: the drop of the target's previous database (a
// checkpoint's worth of time, overlapped with the restart).
struct Replayed {
  std::future<void> retired_drop;  // invalid when nothing runs
};

// Replays s.src_pg into s.dst_pg (the step "replay database"); skipped with --skip-db. On a
// failure before the swap the target database is untouched (db::Replay's contract) and this
// throws mig::Error naming what failed. REQUIRES: `s` outlives the result's future.
Replayed ReplayDatabase(const Options& o, Origin& origin, const Sides& s, Report& rep);

// Waits for what the replay left running; a failed drop is a warning in the report (the
// migration stands: the old database only takes room).
void FinishReplay(Replayed& r, Report& rep);

// The one line that puts the target database back from the safety copy's dump.
std::string DbRollbackCommand(const Install& to, const std::string& run_dir);

}  // namespace mig
