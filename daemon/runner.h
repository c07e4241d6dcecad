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
#include "core/job_lock.h"
#include "daemon/journal.h"

namespace mig {
class Child;
}

namespace mig::daemon {

// Why a `migrate` program failed: the last line of its stderr that is not one of its JSON
// progress events, without "error: ".
std::string FailureReason(const std::string& stderr_text);

// A request's answer: accepted with the backup's timestamp, or refused because a job runs
// (`busy`, with the running one's timestamp), or failed to start (`error`).
struct Answer {
  bool accepted = false, busy = false;
  std::string timestamp, error;
};

// Thread-safe: the scheduler, the API and the signal watcher call it at once.
class Daemon {
 public:
  // `exe`: this program (/proc/self/exe), run for each job. Throws mig::Error when another
  // daemon holds the state folder.
  Daemon(DaemonConfig config, std::string exe);
  ~Daemon();

  // Jobs the last run started and never saw end: marked failed in the journal, the parts of
  // their backup that have no manifest forgotten. Call before Run.
  void Recover();
  // An exported backup dropped into the install as backup.tar (a new server, CapRover's
  // way): restored once (`migrate restore backup.tar --yes`, journalled), then renamed
  // backup.tar.restored-<ts>; a file that is refused or fails is renamed .rejected-<ts> with
  // the reason logged. Call at start, after Recover.
  void AutoRestore();
  // Schedules backups (when enableRegularBackups) until Stop; then stops a running job.
  void Run();
  void Stop();

  // A backup now (the API, the scheduler): answers once the child holds the install's lock
  // and named its timestamp.
  Answer RequestBackup(const std::string& name);
  // A restore of backup `timestamp` (`migrate restore TIMESTAMP --yes`, services in `skip`
  // left as they are).
  Answer RequestRestore(const std::string& timestamp, const std::vector<std::string>& skip);
  // The last restore of `timestamp` this daemon ran: "running", "ready" (done) or "failed";
  // "" when none.
  std::string RestoreStatus(const std::string& timestamp) const;
  BackupConfig backup_config() const;
  // setConfig: the changes written into the configuration file (in place, checked first) and
  // applied at once (the schedule recomputed). Throws mig::Error (bad input) for a bad value.
  void SetBackupConfig(const std::vector<ConfigChange>& changes);
  // The running job's kind and timestamp, when one runs (this daemon's, or any holder of the
  // install's job lock).
  std::optional<std::pair<std::string, std::string>> Running() const;

  const DaemonConfig& config() const { return config_; }
  // --to-path, --repo, --password-file, --repo-option for a `migrate backup ...` of the install.
  std::vector<std::string> RepoArgs() const;
  std::vector<std::string> NodeArgs() const;

 private:
  Answer Request(const std::string& kind, std::vector<std::string> argv, const std::string& timestamp);
  void RunJob(const std::string& kind, std::unique_ptr<Child> child, std::string timestamp);
  void ApplyRetention();
  // Forgets the parts of backup `id` when it has no manifest (its run was killed).
  void ForgetPartial(const std::string& id, const std::string& timestamp) const;

  DaemonConfig config_;
  std::string exe_;
  JobLock state_lock_;  // one daemon per state folder
  Journal journal_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t config_version_ = 0;  // setConfig's changes: the schedule is computed again
  std::optional<std::pair<std::string, std::string>> running_;  // kind, timestamp
  Child* child_ = nullptr;                                       // the running job's program
  std::thread job_;
};

}  // namespace mig::daemon
