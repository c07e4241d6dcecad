// The restart step: the new release brought up under its project name and waited for until
// its services run (and are healthy); and stopping the old release's writers (--stop-old).
#pragma once

#include <future>
#include <map>
#include <optional>
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

// What compose would make of the new release's services (Stack::ConfigHashes), asked on a thread
// while the replay runs, so that compose v1's Python start-up is off the critical path; not
// asked (invalid) with --no-restart.
using ExpectedConfig = std::future<std::optional<std::map<std::string, std::string>>>;
ExpectedConfig AskExpectedConfig(const Options& o, const Sides& s);

// Brings the target's stack up and waits for every service (the step "restart"); skipped with
// --no-restart. Checks the ports again first (another stack may have taken one since). With
// `expected` (asked after the last change to the release's files): no `compose up -d` when
// every service already runs a container made from it (docker::UpToDate), as compose would
// then change nothing.
void Restart(const Options& o, const Sides& s, Report& rep, ExpectedConfig* expected = nullptr);

}  // namespace mig
