// How the checks start programs: through core/process in production, through a table of
// recorded outputs in the tests (so GPU checks run on a machine without a GPU).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::health {

// Exit code a Runner answers for a program that is not installed (as a shell would).
constexpr int kNotInstalled = 127;

// Runs argv and returns what it left. A program that is not installed answers
// kNotInstalled with the reason in `err`; one that exceeds `timeout` answers -1. Never throws
// for either, so one missing tool makes one row, not an aborted check.
using Runner = std::function<ProcResult(const std::vector<std::string>& argv, std::chrono::seconds timeout)>;

// The real thing: core/process's RunCapture.
Runner SystemRunner();

}  // namespace mig::health
