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

}  // namespace mig
