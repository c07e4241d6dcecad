// The run's log: human lines on stderr, and every line (with a time stamp) in migration.log.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

namespace mig {

// Where the run's messages go. Thread-safe: a line is written whole (the cutover's WAL follower
// and the counts beside the final delta log from threads of their own).
class Log {
 public:
  // Messages also go to `path` (appended) from now on.
  void open_file(const std::string& path);
  void set_quiet(bool quiet) { quiet_ = quiet; }
  void info(const std::string& line);   // a step's progress, shown unless --quiet
  void warn(const std::string& line);   // "warning: ..." always shown
  void file_only(const std::string& line);
  ~Log();

 private:
  void to_file(const char* level, const std::string& line);  // mu_ held
  std::mutex mu_;
  std::FILE* file_ = nullptr;
  bool quiet_ = false;
};

Log& TheLog();

}  // namespace mig
