// `migrate check`: the preflight alone, as a table (or JSON) of checks.
#pragma once

#include "health/checks.h"

namespace mig {

// Runs every check producer (this server, the remote source, the GPUs) and prints their rows
// on stdout: a table, or with `json` docs/check.md's JSON. Returns the exit code: 1 when a
// check failed, else 0.
int RunCheck(const health::CheckOptions& o, bool json);

}  // namespace mig
