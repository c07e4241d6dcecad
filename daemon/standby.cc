#include "daemon/standby.h"

#include <signal.h>

#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/process.h"
#include "daemon/cron.h"
#include "daemon/runner.h"
#include "install/install.h"
#include "install/standby.h"
#include "restic/restic.h"

namespace mig::daemon {

std::optional<backup::Entry> StandbyPick(const std::vector<backup::Entry>& all, const std::string& project,
                                         const std::string& own) {
  std::set<std::string> projects;
  for (const auto& e : all)
    if (e.status == "ready") projects.insert(e.project);
  std::string want = project;
  if (want.empty()) {
    if (!own.empty() && projects.count(own)) {
      want = own;
    } else if (projects.size() > 1) {
      std::string names;
      for (const auto& p : projects) names += (names.empty() ? "" : ", ") + (p.empty() ? "(none)" : p);
      BadInput("the repository holds the backups of several installs (projects " + names +
               "): name the primary's in the daemon's configuration, standby: project:");
    } else if (projects.size() == 1) {
      want = *projects.begin();
    }
  }
  for (const auto& e : all)
    if (e.status == "ready" && e.project == want) return e;
  return std::nullopt;
}

Standby::Standby(StandbyConfig config, const std::string& state_dir, std::string exe)
    : config_(std::move(config)),
      exe_(std::move(exe)),
      lock_(state_dir + "/standby.lock", "another migrate daemon keeps a standby from the state folder " + state_dir) {
  lock_.Describe("standby of " + config_.install);
}

StandbyRound Standby::Round() {
  StandbyRound r;
  try {
    const auto state = ReadStandbyState(config_.install);
    if (state && state->promoted()) {
      r.outcome = StandbyRound::kPromoted;
      r.line = config_.install + " was promoted at " + state->promoted_at +
               ": it is a primary now and no longer restored (back it up: a daemon's install:)";
      return r;
    }
    restic::Restic repo({config_.repo, config_.password_file, {}});
    const auto snaps = repo.SnapshotsIfAny({backup::kTag});
    if (!snaps) {
      r.line = "the repository " + config_.repo + " does not exist yet: nothing to restore";
      return r;
    }
    std::string own, release;
    try {
      const Install in = LoadInstall(config_.install, "standby", "", "", ProcessEnv());
      own = in.project_name, release = in.version;
    } catch (const Error&) {  // an empty folder: the first restore makes the install
    }
    const auto pick = StandbyPick(backup::Group(*snaps, std::nullopt), config_.project, own);
    if (!pick) {
      r.line = "no ready backup to restore yet";
      return r;
    }
    if (state && state->backup_id == pick->id) {
      r.line = "up to date with backup " + pick->timestamp;
      return r;
    }
    if (!release.empty() && pick->version != release) {
      // Its database would be replayed into this release's postgres and promote would start
      // this release's services on it: the standby is upgraded first, as the primary was.
      r.outcome = StandbyRound::kFailed;
      r.line = "backup " + pick->timestamp + " is of release " + pick->version + ", the standby runs " + release +
               ": not restored; upgrade the standby to " + pick->version + " (migrate-local), then it follows again";
      return r;
    }
    TheLog().info("standby: restoring backup " + pick->timestamp + " (" + pick->id + ", release " + pick->version +
                  ") into " + config_.install);
    std::vector<std::string> argv{exe_,      "restore",        pick->id, "--standby",       "--yes",
                                  "--json",  "--quiet",        "--to-path", config_.install, "--repo",
                                  config_.repo};
    if (!config_.password_file.empty()) argv.insert(argv.end(), {"--password-file", config_.password_file});
    Child child(argv, Proc::kStdout | Proc::kDieWithUs);
    {
      std::lock_guard<std::mutex> g(mu_);
      child_pid_ = child.pid();
      if (stopping_) ::kill(child_pid_, SIGTERM);
    }
    std::string line;
    while (child.read_line(line)) {
    }
    {
      std::lock_guard<std::mutex> g(mu_);
      child_pid_ = 0;  // reaped next: its pid may be anyone's afterwards
    }
    if (child.wait() != 0) {
      r.outcome = StandbyRound::kFailed;
      r.line = "the restore of backup " + pick->timestamp + " failed: " + FailureReason(child.err_text());
      return r;
    }
    r.outcome = StandbyRound::kRestored;
    r.line = "restored backup " + pick->timestamp + " (" + pick->id + ") into " + config_.install +
             "; its database runs, its other services are stopped";
  } catch (const std::exception& e) {
    r.outcome = StandbyRound::kFailed;
    r.line = e.what();
  }
  return r;
}

void Standby::Run() {
  const CronSchedule sched = ParseCron(config_.frequency);
  const Zone utc = Zone::Load("UTC");
  TheLog().info("standby: keeping " + config_.install + " restored from " + config_.repo + " (" + config_.frequency +
                " UTC)");
  std::unique_lock<std::mutex> g(mu_);
  for (bool first = true; !stopping_; first = false) {
    if (!first) {
      auto next = NextFire(sched, utc, std::chrono::system_clock::now());
      if (!next) {
        TheLog().warn("standby: frequency \"" + config_.frequency + "\" never fires within five years");
        cv_.wait(g, [this] { return stopping_; });
        break;
      }
      const auto at = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*next);
      if (cv_.wait_until(g, at, [this] { return stopping_; })) break;
    }
    g.unlock();
    const StandbyRound r = Round();
    g.lock();
    // A failure said once until it changes (a round every few seconds would repeat it).
    if (r.outcome == StandbyRound::kFailed && !stopping_ && r.line != last_failure_) TheLog().warn("standby: " + r.line);
    else if (r.outcome != StandbyRound::kNothing && r.outcome != StandbyRound::kFailed) TheLog().info("standby: " + r.line);
    else if (first && r.outcome == StandbyRound::kNothing) TheLog().info("standby: " + r.line);
    last_failure_ = r.outcome == StandbyRound::kFailed ? r.line : "";
    if (r.outcome == StandbyRound::kPromoted) break;
  }
}

void Standby::Stop() {
  std::lock_guard<std::mutex> g(mu_);
  stopping_ = true;
  if (child_pid_ > 0) ::kill(child_pid_, SIGTERM);
  cv_.notify_all();
}

}  // namespace mig::daemon
