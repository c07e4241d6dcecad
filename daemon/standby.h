// The DR standby (docs/daemon.md "Standby"): a second install kept restored from the newest
// ready backup of the primary, by `migrate restore ID --standby` run as a child at each fire
// of its frequency, until it is promoted.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "core/job_lock.h"
#include "daemon/config.h"

namespace mig::daemon {

// The backup a standby restores: the newest ready one (`all` is newest first) of `project`;
// when `project` is "", of the standby install's own project `own` if the repository holds
// ready backups of it, else of the repository's only install. nullopt when there is none.
// Throws mig::Error (bad input) when several installs' backups leave the choice open.
std::optional<backup::Entry> StandbyPick(const std::vector<backup::Entry>& all, const std::string& project,
                                         const std::string& own);

// What one round did.
struct StandbyRound {
  enum Outcome { kNothing, kRestored, kFailed, kPromoted } outcome = kNothing;
  std::string line;  // for the log
};

// Thread-safe: Run on one thread, Stop from another.
class Standby {
 public:
  // `exe`: this program, run for each restore. Throws mig::Error when another daemon keeps a
  // standby from the same state folder.
  Standby(StandbyConfig config, const std::string& state_dir, std::string exe);

  // A round at once, then one at each fire of the frequency (UTC), until Stop; ends by itself
  // once the install was promoted (logged).
  void Run();
  void Stop();  // a running restore gets SIGTERM (the next round resumes it)
  // One round: the state read, the repository listed, and the newest ready backup restored
  // unless the install holds it already or was promoted.
  StandbyRound Round();

 private:
  StandbyConfig config_;
  std::string exe_;
  JobLock lock_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int child_pid_ = 0;
  std::string last_failure_;  // Run's: the last round's failure, logged once
};

}  // namespace mig::daemon
