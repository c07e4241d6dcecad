// The daemon's heart (docs/daemon.md): one job at a time on the install, each a child
// `migrate backup create` journalled before and after, retention after each ready backup, the
// schedule of backupFrequency, and the recovery of a job the last run never saw end.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/config.h"
#include "daemon/journal.h"

namespace mig {
class Child;
}

namespace mig::daemon {

// A request's answer: accepted with the backup's timestamp, or refused because a job runs
// (`busy`, with the running one's timestamp), or failed to start (`error`).
struct Answer {
  bool accepted = false, busy = false;
  std::string timestamp, error;
};

// Thread-safe: the scheduler, the API and the signal watcher call it at once.
class Daemon {
 public:
  // `exe`: this program (/proc/self/exe), run for each job.
  Daemon(DaemonConfig config, std::string exe);
  ~Daemon();

  // Jobs the last run started and never saw end: marked failed in the journal, the parts of
  // their backup that have no manifest forgotten. Call before Run.
  void Recover();
  // Schedules backups (when enableRegularBackups) until Stop; then stops a running job.
  void Run();
  void Stop();

  // A backup now (the API, the scheduler): answers once the child holds the install's lock
  // and named its timestamp.
  Answer RequestBackup(const std::string& name);
  // The running job's kind and timestamp, when one runs (this daemon's, or any holder of the
  // install's job lock).
  std::optional<std::pair<std::string, std::string>> Running() const;

  const DaemonConfig& config() const { return config_; }

 private:
  std::vector<std::string> RepoArgs() const;
  void RunBackupJob(std::unique_ptr<Child> child, uint64_t seq, std::string timestamp);
  void ApplyRetention();
  // Forgets the parts of backup `id` when it has no manifest (its run was killed).
  void ForgetPartial(const std::string& id, const std::string& timestamp) const;

  DaemonConfig config_;
  std::string exe_;
  Journal journal_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::optional<std::pair<std::string, std::string>> running_;  // kind, timestamp
  Child* child_ = nullptr;                                       // the running job's program
  std::thread job_;
};

}  // namespace mig::daemon
