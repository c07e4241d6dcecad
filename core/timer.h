// Wall-clock timing of the pipeline's steps, fed into report.json.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

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
