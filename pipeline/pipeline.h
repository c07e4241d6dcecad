// The migration pipeline: preflight, plan, safety copy, merge, replay, restart, report.
#pragma once

#include <memory>

#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/report.h"

namespace mig {

// Runs migrate-local with `o`. Returns the report of a finished (or dry) run; throws mig::Error
// on failure after writing report.json (result "failed") where a migration folder exists.
// With o.from empty, the old install is a folder on this server (migrate-local); otherwise it
// is on the old server o.from, read over SSH through migrate-agent (migrate).
// `origin`: the old install's, when the caller opened it already (else opened here).
Report RunMigration(const Options& o, std::unique_ptr<Origin> origin = nullptr);

}  // namespace mig
