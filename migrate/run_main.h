// What every program's main() shares: one place that turns errors into exit codes.
#pragma once

#include <functional>
#include <string>

namespace mig {

// Exit codes scripts can rely on.
constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;

// Runs `body`, printing "<program>: error: <message>" for a mig::Error and returning its exit
// code (1 failed, 2 bad usage or input); any other exception is a failure (1).
int RunMain(const std::string& program, const std::function<int()>& body);

struct Report;

// The end of every pipeline command (migrate, migrate-local; later backup and restore): prints
// the report (`json`: report.json's shape, else the summary) and returns its exit code: 0 when
// every step succeeded, else throws mig::Error (failed, exit 1) naming the failed step and
// saying that the rest of the run stands (e.g. a DNS hook after a good migration).
int FinishRun(const Report& r, bool json);

}  // namespace mig
