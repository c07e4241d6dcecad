#include "core/log.h"

#include <ctime>

#include "core/error.h"

namespace mig {

Log& TheLog() {
  static Log log;
  return log;
}

void Log::open_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_) std::fclose(file_);
  file_ = std::fopen(path.c_str(), "a");
  if (!file_) Fail("cannot open the log " + path + ": " + ErrnoString());
}

Log::~Log() {
  if (file_) std::fclose(file_);
}

void Log::to_file(const char* level, const std::string& line) {
  if (!file_) return;
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(file_, "%s %s %s\n", stamp, level, line.c_str());
  std::fflush(file_);
}

void Log::info(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  to_file("info", line);
  if (!quiet_) std::fprintf(stderr, "%s\n", line.c_str());
}

void Log::warn(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  to_file("warn", line);
  std::fprintf(stderr, "warning: %s\n", line.c_str());
}

void Log::file_only(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  to_file("info", line);
}

}  // namespace mig
