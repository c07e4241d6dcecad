#include "daemon/runner.h"

#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "backup/catalog.h"
#include "core/error.h"
#include "core/files.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/process.h"
#include "core/timer.h"
#include "install/install.h"
#include "restic/restic.h"

namespace mig::daemon {

namespace {

std::string When(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

}  // namespace

// Why a job failed: the last line of its stderr that is not one of its JSON progress events.
std::string FailureReason(const std::string& err) {
  std::string reason;
  size_t pos = 0;
  while (pos < err.size()) {
    size_t nl = err.find('\n', pos);
    std::string line = err.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? err.size() : nl + 1;
    if (!line.empty() && line[0] != '{') reason = line;
  }
  if (reason.rfind("error: ", 0) == 0) reason = reason.substr(7);
  return reason.empty() ? "it failed without saying why" : reason;
}

Daemon::Daemon(DaemonConfig config, std::string exe)
    : config_(std::move(config)),
      exe_(std::move(exe)),
      state_lock_(config_.state_dir + "/daemon.lock", "another migrate daemon uses the state folder " + config_.state_dir),
      journal_(config_.state_dir + "/jobs.jsonl") {
  state_lock_.Describe("daemon of " + config_.install);
}

Daemon::~Daemon() {
  Stop();
  if (job_.joinable()) job_.join();
}

std::vector<std::string> Daemon::RepoArgs() const {
  std::vector<std::string> a{"--to-path", config_.install, "--repo", config_.repo};
  if (!config_.password_file.empty()) a.insert(a.end(), {"--password-file", config_.password_file});
  for (const auto& o : config_.repo_options) a.insert(a.end(), {"--repo-option", o});
  return a;
}

void Daemon::Recover() {
  std::lock_guard<std::mutex> g(mu_);
  for (const JobEvent& e : journal_.Unfinished()) {
    journal_.Ended(e.seq, "failed", "the daemon stopped while it ran (killed or crashed)", true);
    TheLog().warn("the " + e.kind + " " + e.timestamp + " started at " + e.at +
                  " never ended (the daemon was killed or crashed): marked failed");
    if (e.kind == "backup") ForgetPartial(e.id, e.timestamp);
  }
}

void Daemon::ForgetPartial(const std::string& id, const std::string& timestamp) const {
  if (id.empty()) return;
  try {
    restic::Restic repo({config_.repo, config_.password_file, config_.repo_options});
    std::vector<std::string> tags{"migrate:id=" + id};  // and its timestamp: ids are random, not checked
    if (!timestamp.empty()) tags.push_back("migrate:ts=" + timestamp);
    auto snaps = repo.Snapshots(tags);
    std::vector<std::string> ids;
    for (const auto& s : snaps) {
      if (backup::CarriesManifest(s)) return;  // it ended: its manifest says how
      ids.push_back(s.id);
    }
    if (ids.empty()) return;
    repo.Forget(ids, false);
    TheLog().info("forgot the " + std::to_string(ids.size()) + " part(s) the interrupted backup " + timestamp +
                  " had written");
  } catch (const std::exception& x) {
    TheLog().warn("could not forget the parts of the interrupted backup " + timestamp + ": " + x.what());
  }
}

void Daemon::AutoRestore() {
  const std::string tar = config_.install + "/backup.tar";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(tar, ec)) return;
  const std::string stamp = UtcNow("%Y-%m-%dt%H-%M-%S");
  TheLog().info("found " + tar + ": restoring it once");
  std::vector<std::string> argv{exe_, "restore", tar, "--yes", "--json", "--quiet", "--to-path", config_.install};
  std::string reason;
  int code = 1;
  try {
    Child child(argv, Proc::kStdout | Proc::kDieWithUs);
    uint64_t seq = 0;
    {
      std::lock_guard<std::mutex> g(mu_);
      seq = journal_.Started("restore", "backup.tar", "", child.pid());
    }
    std::string line;
    while (child.read_line(line)) {
    }
    code = child.wait();
    if (code != 0) reason = FailureReason(child.err_text());
    std::lock_guard<std::mutex> g(mu_);
    journal_.Ended(seq, code == 0 ? "ready" : "failed", reason);
  } catch (const std::exception& e) {
    reason = e.what();
  }
  const std::string renamed = tar + (code == 0 ? ".restored-" : ".rejected-") + stamp;
  std::filesystem::rename(tar, renamed, ec);
  if (ec) TheLog().warn("could not rename " + tar + " to " + renamed + ": " + ec.message());
  if (code == 0)
    TheLog().info("restored " + tar + "; renamed " + renamed);
  else
    TheLog().warn("did not restore " + tar + ": " + reason + "; renamed " + renamed + "; going on");
}

std::optional<std::pair<std::string, std::string>> Daemon::Running() const {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (running_) return running_;
  }
  if (auto h = JobLock::Holder(JobLockPath(config_.install))) {
    if (auto r = backup::ParseRunning(*h)) return std::make_pair(std::string("backup"), r->timestamp);
    return std::make_pair(h->substr(0, h->find(' ')), std::string());
  }
  return std::nullopt;
}

// How a stack's nodes are reached (swarm_nodes): the flags of backup create and restore.
std::vector<std::string> Daemon::NodeArgs() const {
  std::vector<std::string> argv;
  const SwarmNodesConfig& n = config_.swarm_nodes;
  for (const auto& [flag, value] : {std::pair<const char*, const std::string*>{"--node-user", &n.user},
                                    {"--key", &n.key}, {"--known-hosts", &n.known_hosts},
                                    {"--nodes-file", &n.nodes_file}})
    if (!value->empty()) argv.insert(argv.end(), {flag, *value});
  return argv;
}

Answer Daemon::RequestBackup(const std::string& name) {
  std::vector<std::string> argv{exe_, "backup", "create", "--json", "--quiet"};
  for (const auto& x : RepoArgs()) argv.push_back(x);
  if (backup_config().suspend) argv.push_back("--suspend");
  for (const auto& x : NodeArgs()) argv.push_back(x);
  if (!name.empty()) argv.insert(argv.end(), {"--name", name});
  return Request("backup", argv, "");
}

Answer Daemon::RequestRestore(const std::string& timestamp, const std::vector<std::string>& skip) {
  std::vector<std::string> argv{exe_, "restore", timestamp, "--yes", "--json", "--quiet"};
  for (const auto& x : RepoArgs()) argv.push_back(x);
  for (const auto& s : skip) argv.insert(argv.end(), {"--skip", s});
  for (const auto& x : NodeArgs()) argv.push_back(x);
  return Request("restore", argv, timestamp);
}

Answer Daemon::Request(const std::string& kind, std::vector<std::string> argv, const std::string& timestamp) {
  Answer a;
  if (auto r = Running()) {
    a.busy = true;
    a.timestamp = r->second;
    a.error = "a " + r->first + " is running" + (r->second.empty() ? "" : " (" + r->second + ")");
    return a;
  }
  std::unique_lock<std::mutex> g(mu_);
  if (stopping_) {
    a.error = "the daemon is stopping";
    return a;
  }
  if (running_) {  // asked at the same moment
    a.busy = true;
    a.timestamp = running_->second;
    a.error = "a " + running_->first + " is running";
    return a;
  }
  if (job_.joinable()) job_.join();  // the last job's thread has ended its work
  running_ = std::make_pair(kind, timestamp);
  auto error = std::make_shared<std::string>();
  bool named = !timestamp.empty();
  job_ = std::thread([this, kind, argv, timestamp, error] {
    // Started on this thread, which lives as long as the job: its program dies with it.
    std::unique_ptr<Child> child;
    try {
      child = std::make_unique<Child>(argv, Proc::kStdout | Proc::kDieWithUs);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> g2(mu_);
      *error = e.what();
      running_.reset();
      cv_.notify_all();
      return;
    }
    try {
      RunJob(kind, std::move(child), timestamp);
    } catch (const std::exception& e) {  // a full disk under the journal: logged, the daemon goes on
      TheLog().warn("the " + kind + " job failed in the daemon: " + e.what());
      std::lock_guard<std::mutex> g2(mu_);
      child_ = nullptr;
      running_.reset();
      cv_.notify_all();
    }
  });
  cv_.wait_for(g, std::chrono::seconds(60), [&] { return !running_ || named || !running_->second.empty(); });
  if (running_ && !running_->second.empty()) {
    a.accepted = true;
    a.timestamp = running_->second;
  } else {
    a.error = error->empty() ? "the " + kind + " ended before it started (see the daemon's log)" : *error;
  }
  return a;
}

void Daemon::RunJob(const std::string& kind, std::unique_ptr<Child> child, std::string ts) {
  {
    std::lock_guard<std::mutex> g(mu_);
    child_ = child.get();
    if (stopping_) ::kill(child->pid(), SIGTERM);  // stopped while it started
  }
  const std::string lock_path = JobLockPath(config_.install);
  const std::string pid_text = ", pid " + std::to_string(child->pid()) + ",";
  std::string id;
  // A backup's timestamp and id: what it writes in the install's job lock once it holds it.
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       kind == "backup" && std::chrono::steady_clock::now() < until && child->poll_exit() < 0;) {
    if (auto h = JobLock::Holder(lock_path); h && h->find(pid_text) != std::string::npos)
      if (auto r = backup::ParseRunning(*h)) {
        ts = r->timestamp, id = r->id;
        break;
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  uint64_t seq = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    seq = journal_.Started(kind, ts, id, child->pid());
    if (!ts.empty()) running_->second = ts;
    cv_.notify_all();
  }
  std::string out, line;
  while (child->read_line(line)) out += line + "\n";
  {
    std::lock_guard<std::mutex> g(mu_);
    child_ = nullptr;  // reaped next: its pid may be anyone's afterwards
  }
  const int code = child->wait();
  std::string status = "failed", error;
  if (code == 0) {
    status = "ready";
    if (kind == "backup") {
      try {
        auto j = nlohmann::json::parse(out);
        status = j.value("status", "failed");
        ts = j.value("timestamp", ts);
      } catch (const std::exception& e) {
        status = "failed";
        error = std::string("its output is not JSON: ") + e.what();
      }
    }
  } else {
    error = FailureReason(child->err_text());
    std::lock_guard<std::mutex> g(mu_);
    if (stopping_) error = "the daemon was stopped while it ran";
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    journal_.Ended(seq, status, error);
    child_ = nullptr;
  }
  if (kind == "backup" && status != "ready") ForgetPartial(id, ts);  // a killed one left parts without a manifest
  if (status == "ready") {
    TheLog().info(kind + " " + ts + (kind == "backup" ? " ready" : " done"));
    if (kind == "backup") ApplyRetention();
  } else {
    TheLog().warn(kind + " " + (ts.empty() ? std::string("(no timestamp)") : ts) + " failed: " + error);
  }
  std::lock_guard<std::mutex> g(mu_);
  running_.reset();
  cv_.notify_all();
}

std::string Daemon::RestoreStatus(const std::string& timestamp) const {
  std::lock_guard<std::mutex> g(mu_);
  std::string status;
  uint64_t seq = 0;
  for (const auto& e : journal_.events()) {
    if (e.event == "started" && e.kind == "restore" && e.timestamp == timestamp) seq = e.seq, status = "running";
    if (e.event == "ended" && seq && e.of == seq) status = e.status;
  }
  return status;
}

BackupConfig Daemon::backup_config() const {
  std::lock_guard<std::mutex> g(mu_);
  return config_.backup;
}

void Daemon::SetBackupConfig(const std::vector<ConfigChange>& changes) {
  std::lock_guard<std::mutex> g(mu_);
  const auto text_now = ReadSmallFile(config_.path);
  if (!text_now) BadInput("the configuration " + config_.path + " is gone: nothing changed");
  const std::string& text = *text_now;
  struct stat st {};
  const mode_t mode = ::stat(config_.path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
  const std::string changed = ApplyBackupConfig(text, changes);
  DaemonConfig checked = ParseDaemonConfig(changed, config_.path);  // refused before anything is written
  WriteFileAtomic(config_.path, changed, mode);
  config_.backup = checked.backup;
  TheLog().info("backupConfig changed: regular backups " +
                (config_.backup.enableRegularBackups ? config_.backup.backupFrequency + " " + config_.backup.timezone
                                                     : std::string("off")) +
                ", keep the last " + std::to_string(config_.backup.backupRetentionCount));
  ++config_version_;
  cv_.notify_all();  // the schedule is computed again
}

void Daemon::ApplyRetention() {
  const int keep = backup_config().backupRetentionCount;
  std::vector<std::string> argv{exe_, "backup", "forget", "--json", "--keep-last", std::to_string(keep)};
  for (const auto& x : RepoArgs()) argv.push_back(x);
  try {
    Child forget(argv, Proc::kStdout | Proc::kDieWithUs);
    std::string out, line;
    while (forget.read_line(line)) out += line;
    if (forget.wait() != 0) {
      TheLog().warn("retention (keep the last " + std::to_string(keep) +
                    ") failed: " + FailureReason(forget.err_text()));
      return;
    }
    auto j = nlohmann::json::parse(out);
    const size_t gone = j.at("forgotten").size();
    if (gone) TheLog().info("retention: forgot " + std::to_string(gone) + " backup(s), kept the last " + std::to_string(keep));
  } catch (const std::exception& e) {
    TheLog().warn(std::string("retention failed: ") + e.what());
  }
}

void Daemon::Stop() {
  std::lock_guard<std::mutex> g(mu_);
  stopping_ = true;
  if (child_) ::kill(child_->pid(), SIGTERM);  // migrate ends; its restic die with it
  cv_.notify_all();
}

void Daemon::Run() {
  std::unique_lock<std::mutex> g(mu_);
  while (!stopping_) {
    const uint64_t version = config_version_;
    auto changed = [&] { return stopping_ || config_version_ != version; };
    if (!config_.backup.enableRegularBackups) {
      TheLog().info("regular backups are off (backupConfig.enableRegularBackups: false)");
      cv_.wait(g, changed);
      continue;
    }
    const CronSchedule sched = ParseCron(config_.backup.backupFrequency);
    const Zone zone = Zone::Load(config_.backup.timezone);
    auto next = NextFire(sched, zone, std::chrono::system_clock::now());
    if (!next) {
      TheLog().warn("backupFrequency \"" + config_.backup.backupFrequency + "\" never fires within five years");
      cv_.wait(g, changed);
      continue;
    }
    const auto at = std::chrono::time_point_cast<std::chrono::system_clock::duration>(*next);
    if (cv_.wait_until(g, at, changed)) continue;  // stopped, or the schedule changed
    g.unlock();
    Answer a = RequestBackup("");
    if (a.busy) TheLog().warn("scheduled backup at " + When(at) + " skipped: " + a.error);
    else if (!a.accepted) TheLog().warn("scheduled backup at " + When(at) + " did not start: " + a.error);
    else TheLog().info("scheduled backup " + a.timestamp + " started");
    g.lock();
  }
  g.unlock();
  if (job_.joinable()) job_.join();
}

}  // namespace mig::daemon
