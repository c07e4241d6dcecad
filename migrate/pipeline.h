// The migration pipeline: preflight, plan, safety copy, merge, replay, restart, report.
#pragma once

#include "migrate/options.h"
#include "migrate/report.h"

namespace mig {

// Runs migrate-local with `o`. Returns the report of a finished (or dry) run; throws mig::Error
// on failure after writing report.json (result "failed") where a migration folder exists.
Report RunLocalMigration(const Options& o);

}  // namespace mig
