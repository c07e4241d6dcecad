// `migrate check`: the result of one check as a row, the table an operator reads and the
// JSON a script reads (docs/check.md).
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace mig::health {

// How one check went. kSkip: not checked here (no GPU, nothing to compare with).
enum class Status { kOk, kWarn, kFail, kSkip };

// "ok", "warn", "fail", "skip".
const char* StatusName(Status s);

// One row of the table: what was checked, how it went, what was seen, and what to do.
struct Check {
  std::string name;    // "docker engine", "gpu 0", ...
  Status status = Status::kOk;
  std::string detail;  // what was found, one line
  std::string fix;     // what to do; set for every fail and warn
};

// Builders that read like the table.
Check Ok(std::string name, std::string detail);
Check Warn(std::string name, std::string detail, std::string fix);
Check Failed(std::string name, std::string detail, std::string fix);
Check Skip(std::string name, std::string detail);

// The rows as an aligned table (CHECK, STATUS, DETAIL), each fix on a line of its own under
// its row, then a one-line summary.
void PrintTable(std::ostream& out, const std::vector<Check>& checks);

// The rows as docs/check.md's JSON: {"version", "result", "summary", "checks": [...]}.
nlohmann::ordered_json ToJson(const std::vector<Check>& checks);

// "fail" when any row failed, else "warn" when any warned, else "ok".
std::string Result(const std::vector<Check>& checks);

// 1 when any row failed, else 0.
int ExitCode(const std::vector<Check>& checks);

}  // namespace mig::health
