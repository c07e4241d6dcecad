// Progress of a long step, as rsync --info=progress2 shows it: done / total, percent, rate and
// time left. On a terminal one rewritten line on stderr; otherwise a plain line every few
// seconds (logs, CI); with --json a JSON object per line on stderr for scripts
// (docs/report.md "Progress events").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/timer.h"

namespace mig {

// "1.5 MiB": binary units, one decimal.
std::string HumanBytes(uint64_t b);

// How progress is shown.
enum class ProgressMode { kQuiet, kHuman, kJson };

// Picks the mode a command's flags ask for: --json wins, then --quiet.
inline ProgressMode ProgressModeFor(bool quiet, bool json) {
  return json ? ProgressMode::kJson : quiet ? ProgressMode::kQuiet : ProgressMode::kHuman;
}

// One reading of a step's progress: plain data, printed as a line or as JSON.
struct ProgressSnapshot {
  std::string label;      // "data/", "database"
  uint64_t items = 0;     // entries handled
  uint64_t done = 0;      // bytes of the work handled (copied, compared or skipped)
  uint64_t total = 0;     // bytes of the whole work; 0: unknown (no percent, no ETA)
  uint64_t written = 0;   // bytes actually written
  double seconds = 0;     // since the step began
  bool final = false;

  double rate() const { return seconds > 0 ? static_cast<double>(done) / seconds : 0; }
  // -1 when unknown.
  int percent() const;
  double eta_seconds() const;
};

// "  data/: 1.2 GiB/3.4 GiB  35%  120.0 MiB/s  ETA 0:00:18  (1234 items, 800.0 MiB written)"
std::string ProgressLine(const ProgressSnapshot& s);
// {"event": "progress", "step", "items", "done_bytes", "total_bytes", "percent", "written_bytes",
//  "bytes_per_second", "eta_seconds", "seconds", "final"}; percent and eta_seconds null when unknown.
nlohmann::json ProgressJson(const ProgressSnapshot& s);

// Shows one step's progress at a bounded rate. Not thread-safe.
class Progress {
 public:
  Progress(std::string label, uint64_t total_bytes, ProgressMode mode);
  // `done` bytes of the total handled, `written` of them written, `items` entries handled.
  void Update(uint64_t items, uint64_t done, uint64_t written);
  // The total, once it is known (0: unknown).
  void SetTotal(uint64_t total_bytes) { s_.total = total_bytes; }
  // The last reading, always printed when anything was printed before (or in JSON mode).
  void Done();

 private:
  void Print(bool final);
  ProgressSnapshot s_;
  ProgressMode mode_;
  bool tty_, printed_ = false;
  Stopwatch sw_;
  double last_print_ = -1;
};

}  // namespace mig
