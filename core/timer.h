// Wall-clock timing of the pipeline's steps, fed into report.json.
#pragma once

#include <chrono>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "core/log.h"

namespace mig {

// Seconds elapsed since construction (or the last restart()).
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void restart() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

// A sequence of parts timed one after another: lap("name") records the seconds since the previous
// lap (or construction) in `into` and in the log file ("PREFIX: name took S s").
class Laps {
 public:
  Laps(std::vector<std::pair<std::string, double>>& into, std::string prefix) : into_(into), prefix_(std::move(prefix)) {}
  void operator()(const char* name) {
    const double s = sw_.seconds();
    into_.emplace_back(name, s);
    TheLog().file_only(prefix_ + ": " + name + " took " + std::to_string(s) + " s");
    sw_.restart();
  }

 private:
  std::vector<std::pair<std::string, double>>& into_;
  std::string prefix_;
  Stopwatch sw_;
};

// The current time in UTC as strftime writes it with `fmt`: "2026-12-01T03:04:05Z" by default,
// "20261201-030405" for folder names (kStampFormat).
inline constexpr const char* kStampFormat = "%Y%m%d-%H%M%S";
inline std::string UtcNow(const char* fmt = "%Y-%m-%dT%H:%M:%SZ") {
  char buf[64];
  std::time_t now = std::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace mig
