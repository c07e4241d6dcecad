// The daemon's journal of jobs (docs/daemon.md "On disk"): state_dir/jobs.jsonl, one JSON line
// per event, each written with O_APPEND and fsynced, so that after a crash or kill -9 the next
// start knows which job never ended.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/fd.h"

namespace mig::daemon {

struct JobEvent {
  uint64_t seq = 0;
  std::string event;  // "started" | "ended"
  // started:
  std::string kind;       // "backup" | "restore"
  std::string timestamp;  // the backup's (made, or restored)
  std::string id;         // the backup's id, when known
  int pid = 0;
  std::string at;  // ISO 8601 UTC
  // ended:
  uint64_t of = 0;     // the seq of its started line
  std::string status;  // "ready" | "failed" (a backup), "done" | "failed" (a restore)
  std::string error;
  bool interrupted = false;  // the daemon died under it; marked at the next start
};

// Not thread-safe: the daemon's job runner owns it.
class Journal {
 public:
  // Opens (creates) `path` and reads it. A torn last line (a crash mid-write) is dropped with a
  // warning; a damaged line before it is refused (mig::Error naming the line).
  explicit Journal(std::string path);
  uint64_t Started(const std::string& kind, const std::string& timestamp, const std::string& id, int pid);
  void Ended(uint64_t of, const std::string& status, const std::string& error, bool interrupted = false);
  // The started jobs without their ended line, oldest first.
  std::vector<JobEvent> Unfinished() const;
  const std::vector<JobEvent>& events() const { return events_; }

 private:
  void Append(const JobEvent& e);
  std::string path_;
  Fd fd_;
  std::vector<JobEvent> events_;
  uint64_t next_ = 1;
};

}  // namespace mig::daemon
