// The restart step: the new release brought up under its project name and waited for until
// its services run (and are healthy); and stopping the old release's writers (--stop-old).
#pragma once

#include <string>
#include <vector>

#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// The new release's services, every one (what Restart waits for and a failed cutover stops).
std::vector<std::string> NewServices(const Sides& s);

// Stops the old release's services: those other than its database, or (db_too) its database.
void StopOld(const Sides& s, bool db_too);

// Brings the target's stack up and waits for every service (the step "restart"); skipped with
// --no-restart. Checks the ports again first (another stack may have taken one since).
void Restart(const Options& o, const Sides& s, Report& rep);

}  // namespace mig
