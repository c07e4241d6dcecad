#include "restic/restic.h"

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text.h"
#include "core/version_cache.h"
#include "core/log.h"

namespace mig::restic {

namespace {

using json = nlohmann::json;

bool Has(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

// restic's "Fatal: ..." line, else its last line.
std::string FatalLine(const std::string& err) {
  auto at = err.rfind("Fatal: ");
  std::string line;
  if (at != std::string::npos) {
    line = err.substr(at + 7);
  } else {
    ProcResult r;
    r.err = err;
    line = r.last_error_line();
  }
  auto nl = line.find('\n');
  return nl == std::string::npos ? line : line.substr(0, nl);
}

// One restic process of a `backup --stdin`, its stdout lines read on a thread of their own (its
// status lines must never block it while we feed its stdin), keeping the summary and noting
// restic's first status line: restic prints it once it holds its lock and has read the index,
// i.e. when it is ready to read.
class StdinRun {
 public:
  explicit StdinRun(std::unique_ptr<Proc> proc) : proc_(std::move(proc)) {
    reader_ = std::thread([this] {
      try {
        std::string line;
        while (proc_->read_line(line)) {
          std::optional<BackupStatus> st;
          std::optional<BackupSummary> sum;
          ParseBackupLine(line, st, sum);
          if (sum) summary_ = sum;
          if (st || sum) Note(started_);
        }
      } catch (...) {  // Finish() then finds no summary and names restic's failure
      }
      Note(ended_);
    });
  }
  ~StdinRun() { Kill(); }
  enum class State { kWaiting, kReady, kEnded };
  // Waits up to `limit` for restic to be ready to read, or to end before it was.
  State Await(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait_for(g, limit, [this] { return started_ || ended_; });
    return started_ ? State::kReady : ended_ ? State::kEnded : State::kWaiting;
  }
  void write(const char* buf, size_t len) { proc_->write(buf, len); }
  // Closes its input (when it still reads) and waits: its exit code; `summary` when it printed one.
  int End(std::optional<BackupSummary>& summary) {
    if (!reader_.joinable()) Fail("restic was stopped");  // killed by Kill (Abort)
    proc_->close_stdin();
    reader_.join();
    int code = proc_->wait();
    summary = summary_;
    return code;
  }
  std::string err_text() const { return proc_->err_text(); }
  void Kill() noexcept {
    if (!reader_.joinable()) return;
    try {
      proc_->kill();
      reader_.join();
      proc_->wait();
    } catch (...) {
      if (reader_.joinable()) reader_.join();
    }
  }

 private:
  void Note(bool& flag) {
    std::lock_guard<std::mutex> g(mu_);
    flag = true;
    cv_.notify_all();
  }
  std::unique_ptr<Proc> proc_;
  std::thread reader_;
  std::optional<BackupSummary> summary_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false, ended_ = false;
};

// A `restic backup --stdin` whose producer starts at once: bytes written before restic is ready
// are held (up to kHold; a write beyond waits for it), and a restic that ends before it read
// anything, on a lock or a missing repository, is started again, so that a stream which cannot
// be replayed (a dump) is never lost to it.
class HeldStdin : public StdinBackup {
 public:
  static constexpr size_t kHold = 32u << 20;
  HeldStdin(std::function<std::unique_ptr<Proc>()> start, std::function<bool(const Diagnosis&, int)> again,
            std::function<void()> make_repository, Repo repo, std::string what)
      : start_(std::move(start)),
        again_(std::move(again)),
        make_repository_(std::move(make_repository)),
        repo_(std::move(repo)),
        what_(std::move(what)),
        run_(std::make_unique<StdinRun>(start_())) {}

  void write(const char* buf, size_t len) override {
    if (!ready_) {
      if (held_.size() + len <= kHold && !Ready(std::chrono::milliseconds(0))) {
        held_.append(buf, len);
        return;
      }
      AwaitReady();
    }
    run_->write(buf, len);  // a restic gone meanwhile: Finish says why
  }
  BackupSummary Finish() override {
    AwaitReady();
    std::optional<BackupSummary> summary;
    const int code = run_->End(summary);
    if (code != 0 || !summary) Throw(Diagnose(run_->err_text()), repo_, what_);
    return *summary;
  }
  void Abort() override { run_->Kill(); }

 private:
  // Whether restic is ready to read after waiting up to `limit`; one that ended before it was
  // is started again when that may help, else its failure is thrown (and again on every later
  // call: Finish after a failed write says the same).
  bool Ready(std::chrono::milliseconds limit) {
    if (failed_) std::rethrow_exception(failed_);
    try {
      for (;;) {
        switch (run_->Await(limit)) {
          case StdinRun::State::kReady:
            return true;
          case StdinRun::State::kWaiting:
            return false;
          case StdinRun::State::kEnded:
            break;
        }
        std::optional<BackupSummary> ignored;
        run_->End(ignored);
        const Diagnosis d = Diagnose(run_->err_text());
        if (d.kind == Failure::kNoRepository && make_repository_ && !made_) {
          made_ = true;
          make_repository_();
        } else if (!again_(d, attempt_++)) {
          Throw(d, repo_, what_);
        }
        run_ = std::make_unique<StdinRun>(start_());
      }
    } catch (...) {
      failed_ = std::current_exception();
      throw;
    }
  }
  // Ready, then the held bytes handed over. A restic that prints no status before its input is
  // read is taken as ready after a minute.
  void AwaitReady() {
    if (ready_) return;
    Ready(std::chrono::seconds(60));
    ready_ = true;
    try {
      if (!held_.empty()) run_->write(held_.data(), held_.size());
    } catch (const Error&) {  // restic gone: the next write or Finish says why
    }
    std::string().swap(held_);
  }

  std::function<std::unique_ptr<Proc>()> start_;
  std::function<bool(const Diagnosis&, int)> again_;
  std::function<void()> make_repository_;
  Repo repo_;
  std::string what_;
  std::unique_ptr<StdinRun> run_;
  std::string held_;
  bool ready_ = false, made_ = false;
  int attempt_ = 0;
  std::exception_ptr failed_;
};

}  // namespace

std::string Repo::where() const {
  if (!location.empty()) return location;
  std::string env = EnvOr("RESTIC_REPOSITORY");
  return env.empty() ? "the repository" : env;
}

std::string Version::text() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

std::optional<Version> ParseVersion(const std::string& out) {
  static const std::regex re(R"(restic (\d+)\.(\d+)\.(\d+))");
  std::smatch m;
  if (!std::regex_search(out, m, re)) return std::nullopt;
  return Version{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3])};
}

std::string Snapshot::tag(const std::string& key) const {
  const std::string prefix = key + "=";
  for (const auto& t : tags)
    if (t.compare(0, prefix.size(), prefix) == 0) return t.substr(prefix.size());
  return "";
}

std::vector<Snapshot> ParseSnapshots(const std::string& text) {
  std::vector<Snapshot> out;
  json j;
  try {
    j = json::parse(text.empty() ? "[]" : text);
  } catch (const json::exception& e) {
    Fail(std::string("restic's list of snapshots is not JSON: ") + e.what());
  }
  if (j.is_null()) return out;  // restic prints "null" for none in some versions
  if (!j.is_array()) Fail("restic's list of snapshots is not a JSON array");
  for (const auto& s : j) {
    Snapshot snap;
    snap.id = s.value("id", "");
    snap.short_id = s.value("short_id", snap.id.substr(0, 8));
    snap.time = s.value("time", "");
    snap.hostname = s.value("hostname", "");
    if (s.contains("tags") && s["tags"].is_array())
      for (const auto& t : s["tags"]) snap.tags.push_back(t.get<std::string>());
    if (s.contains("paths") && s["paths"].is_array())
      for (const auto& p : s["paths"]) snap.paths.push_back(p.get<std::string>());
    if (snap.id.empty()) Fail("restic listed a snapshot without an id");
    out.push_back(std::move(snap));
  }
  return out;
}

struct timespec ParseTime(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  static const std::regex re(R"((\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2})))");
  std::smatch m;
  if (!std::regex_match(text, m, re)) Fail("restic wrote a time migrate cannot read: " + text);
  struct tm t {};
  t.tm_year = std::stoi(m[1]) - 1900;
  t.tm_mon = std::stoi(m[2]) - 1;
  t.tm_mday = std::stoi(m[3]);
  t.tm_hour = std::stoi(m[4]);
  t.tm_min = std::stoi(m[5]);
  t.tm_sec = std::stoi(m[6]);
  struct timespec ts {};
  ts.tv_sec = ::timegm(&t);
  if (m[7].matched) {
    std::string frac = m[7].str();
    frac.resize(9, '0');
    ts.tv_nsec = std::stol(frac);
  }
  if (m[9].matched) {
    const long offset = std::stol(m[10]) * 3600 + std::stol(m[11]) * 60;
    ts.tv_sec -= m[9] == "+" ? offset : -offset;
  }
  return ts;
}

std::optional<LsNode> ParseLsLine(const std::string& line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) Fail("restic ls wrote a line that is not JSON: " + line.substr(0, 200));
  const std::string kind = j.value("struct_type", "");
  if (kind == "snapshot") return std::nullopt;
  if (kind != "node") Fail("restic ls wrote a line that is neither a snapshot nor a node: " + line.substr(0, 200));
  try {
    LsNode n;
    n.path = j.at("path").get<std::string>();
    n.type = j.at("type").get<std::string>();
    n.uid = j.value("uid", 0u);
    n.gid = j.value("gid", 0u);
    n.size = j.value("size", uint64_t{0});
    // Go's os.FileMode: the permission bits, setuid, setgid and sticky as bits of their own.
    const uint32_t mode = j.value("mode", 0u);
    n.perm = (mode & 0777) | ((mode & (1u << 23)) ? 04000 : 0) | ((mode & (1u << 22)) ? 02000 : 0) |
             ((mode & (1u << 20)) ? 01000 : 0);
    n.mtime = ParseTime(j.at("mtime").get<std::string>());
    n.atime = j.contains("atime") ? ParseTime(j.at("atime").get<std::string>()) : n.mtime;
    if (n.path.empty() || n.path[0] != '/') Fail("restic ls named a node without its path: " + line.substr(0, 200));
    return n;
  } catch (const json::exception& e) {
    Fail("restic ls wrote a node migrate cannot read (" + std::string(e.what()) + "): " + line.substr(0, 200));
  }
}

void ParseBackupLine(const std::string& line, std::optional<BackupStatus>& status,
                     std::optional<BackupSummary>& summary) {
  if (line.empty() || line[0] != '{') return;
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return;
  try {
  const std::string type = j.value("message_type", "");
  if (type == "status") {
    BackupStatus st;
    st.fraction = j.value("percent_done", 0.0);
    st.bytes_done = j.value("bytes_done", uint64_t{0});
    st.total_bytes = j.value("total_bytes", uint64_t{0});
    st.files_done = j.value("files_done", uint64_t{0});
    st.total_files = j.value("total_files", uint64_t{0});
    status = st;
  } else if (type == "summary") {
    BackupSummary s;
    s.files_new = j.value("files_new", uint64_t{0});
    s.files_changed = j.value("files_changed", uint64_t{0});
    s.files_unmodified = j.value("files_unmodified", uint64_t{0});
    s.total_files = j.value("total_files_processed", uint64_t{0});
    s.total_bytes = j.value("total_bytes_processed", uint64_t{0});
    s.data_added = j.value("data_added", uint64_t{0});
    s.seconds = j.value("total_duration", 0.0);
    s.snapshot_id = j.value("snapshot_id", "");
    summary = s;
  }
  } catch (const json::exception&) {  // a field of another type: not a line we understand
  }
}

Diagnosis Diagnose(const std::string& err) {
  Diagnosis d;
  d.detail = FatalLine(err);
  if (Has(err, "wrong password or no key found")) {
    d.kind = Failure::kWrongPassword;
  } else if (Has(err, "an empty password is not a password") || Has(err, "Please specify password") ||
             Has(err, "resolving password failed")) {
    d.kind = Failure::kNoPassword;
  } else if (Has(err, "is already locked")) {
    d.kind = Failure::kLocked;
    static const std::regex holder(R"(locked (exclusively )?by (PID \d+ on \S+ by \S+)[^\n]*\nlock was created at ([^\n]*))");
    std::smatch m;
    if (std::regex_search(err, m, holder)) d.detail = m[2].str() + ", since " + m[3].str();
  } else if (Has(err, "connection refused") || Has(err, "no such host") || Has(err, "i/o timeout") ||
             Has(err, "unable to start the sftp session") || Has(err, "network is unreachable") ||
             Has(err, "connection reset")) {
    d.kind = Failure::kUnreachable;
  } else if (Has(err, "Is there a repository at the following location?") ||
             Has(err, "config file: stat") || Has(err, "The specified bucket does not exist")) {
    d.kind = Failure::kNoRepository;
  }
  return d;
}

void Throw(const Diagnosis& d, const Repo& repo, const std::string& what) {
  const std::string where = repo.where();
  switch (d.kind) {
    case Failure::kWrongPassword:
      BadInput("the password does not open the repository " + where + " (restic: no key found for it): check "
               "--password-file / RESTIC_PASSWORD_FILE");
    case Failure::kNoPassword:
      BadUsage("no password for the repository " + where + ": give --password-file FILE (or set "
               "RESTIC_PASSWORD_FILE / RESTIC_PASSWORD_COMMAND)");
    case Failure::kNoRepository:
      throw NoRepository("there is no restic repository at " + where + " (restic: " + d.detail +
                         "): check --repo; `migrate backup create` makes one");
    case Failure::kUnreachable:
      Fail("the repository " + where + " cannot be reached (restic: " + d.detail + ")");
    case Failure::kLocked:
      Fail("the repository " + where + " is locked by another restic (" + d.detail +
           ") that is still alive; wait for it to end, then try again");
    case Failure::kOther:
      break;
  }
  Fail("restic could not " + what + " in " + where + ": " + d.detail);
}

std::vector<std::string> MetaArgs(const SnapshotMeta& meta) {
  std::vector<std::string> a;
  for (const auto& t : meta.tags) a.insert(a.end(), {"--tag", t});
  if (!meta.time.empty()) a.insert(a.end(), {"--time", meta.time});
  if (!meta.hostname.empty()) a.insert(a.end(), {"--host", meta.hostname});
  return a;
}

Restic::Restic(Repo repo, const Host& host) : repo_(std::move(repo)), host_(&host) {
  if (repo_.location.empty() && EnvOr("RESTIC_REPOSITORY").empty() && EnvOr("RESTIC_REPOSITORY_FILE").empty())
    BadUsage("no repository: give --repo REPO (or set MIGRATE_REPO / RESTIC_REPOSITORY): a folder, "
             "sftp:user@host:/path, s3:http://host:port/bucket or rest:http://host:port/");
  if (repo_.password_file.empty() && EnvOr("RESTIC_PASSWORD_FILE").empty() &&
      EnvOr("RESTIC_PASSWORD_COMMAND").empty() && EnvOr("RESTIC_PASSWORD").empty())
    Throw({Failure::kNoPassword, ""}, repo_, "");
}

const Version& Restic::version() const {
  if (!version_) {
    ProcResult r;
    auto ask = [&] {
      r = host_->Run({"restic", "version"}, {}, std::chrono::seconds(30));
      return r.ok() && ParseVersion(r.out) ? TrimEnd(r.out) : std::string();
    };
    // On this machine the answer is kept per executable (core/version_cache.h).
    auto reads = [](const std::string& said) { return ParseVersion(said).has_value(); };
    std::optional<Version> v = ParseVersion(host_->local() ? CachedVersion("restic", ask, reads) : ask());
    if (!v)
      Fail("restic does not answer (" + (r.ok() ? r.out : r.last_error_line()) +
           "): install it (apt-get install restic)");
    version_ = v;
  }
  return *version_;
}

std::vector<std::string> Restic::Argv(const std::vector<std::string>& args) const {
  std::vector<std::string> a{"restic"};
  if (!repo_.location.empty()) a.insert(a.end(), {"--repo", repo_.location});
  if (!repo_.password_file.empty()) a.insert(a.end(), {"--password-file", repo_.password_file});
  for (const auto& o : repo_.options) a.insert(a.end(), {"-o", o});
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

bool Restic::AgainAfterLock(const Diagnosis& d, int attempt) const {
  if (d.kind != Failure::kLocked) return false;
  if (attempt == 0) {
    TheLog().file_only("restic: the repository is locked (" + d.detail + "); clearing stale locks");
    host_->Run(Argv({"unlock"}), {}, std::chrono::seconds(120));
    return true;
  }
  if (attempt < 30) {  // a live lock: a short job ends soon
    std::this_thread::sleep_for(std::chrono::seconds(1));
    return true;
  }
  return false;
}

ProcResult Restic::Call(const std::vector<std::string>& args, const std::string& what,
                        std::chrono::seconds timeout) const {
  version();
  for (int attempt = 0;; ++attempt) {
    ProcResult r = host_->Run(Argv(args), {}, timeout);
    if (r.ok()) return r;
    Diagnosis d = Diagnose(r.err);
    if (!AgainAfterLock(d, attempt)) Throw(d, repo_, what);
  }
}

bool Restic::Initialized() const {
  version();
  ProcResult r = host_->Run(Argv({"cat", "config", "--no-lock"}), {}, std::chrono::seconds(300));
  if (r.ok()) return true;
  Diagnosis d = Diagnose(r.err);
  if (d.kind == Failure::kNoRepository) return false;
  Throw(d, repo_, "open the repository");
}

void Restic::Init() const { Call({"init"}, "create the repository", std::chrono::seconds(300)); }

namespace {
std::vector<std::string> SnapshotsArgs(const std::vector<std::string>& tags) {
  std::vector<std::string> args{"snapshots", "--json", "--no-lock"};
  if (!tags.empty()) {
    std::string all;
    for (const auto& t : tags) all += (all.empty() ? "" : ",") + t;
    args.insert(args.end(), {"--tag", all});
  }
  return args;
}
}  // namespace

std::vector<Snapshot> Restic::Snapshots(const std::vector<std::string>& tags) const {
  return ParseSnapshots(Call(SnapshotsArgs(tags), "list the snapshots", std::chrono::seconds(600)).out);
}

std::optional<std::vector<Snapshot>> Restic::SnapshotsIfAny(const std::vector<std::string>& tags) const {
  version();
  ProcResult r = host_->Run(Argv(SnapshotsArgs(tags)), {}, std::chrono::seconds(600));
  if (r.ok()) return ParseSnapshots(r.out);
  Diagnosis d = Diagnose(r.err);
  if (d.kind == Failure::kNoRepository) return std::nullopt;
  Throw(d, repo_, "list the snapshots");
}

BackupSummary Restic::Backup(const std::string& dir, const std::vector<std::string>& paths, const SnapshotMeta& meta,
                             const std::vector<std::string>& excludes,
                             const std::function<void(const BackupStatus&)>& progress) const {
  version();
  // env -C: restic stores relative paths relative, so the snapshot's tree starts at `dir`.
  std::vector<std::string> args{"backup", "--json"};
  for (const auto& a : MetaArgs(meta)) args.push_back(a);
  for (const auto& e : excludes) {  // restic matches a pattern that starts with / against the absolute path
    std::string pattern;
    for (char c : dir + "/" + e) {
      if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern += '\\';
      pattern += c;
    }
    args.insert(args.end(), {"--exclude", pattern});
  }
  args.push_back("--");
  args.insert(args.end(), paths.begin(), paths.end());
  std::vector<std::string> argv{"env", "-C", dir};
  for (const auto& a : Argv(args)) argv.push_back(a);
  for (int attempt = 0;; ++attempt) {
    auto proc = host_->Start(argv, Proc::kStdout | Proc::kDieWithUs);
    std::optional<BackupSummary> summary;
    std::string line;
    while (proc->read_line(line)) {
      std::optional<BackupStatus> st;
      ParseBackupLine(line, st, summary);
      if (st && progress) progress(*st);
    }
    int code = proc->wait();
    // restic exits 3 when some files could not be read: the snapshot is incomplete.
    if (code == 3)
      throw IncompleteBackup("restic could not read every file of " + dir + " (" + FatalLine(proc->err_text()) +
                                 "): the backup would be incomplete",
                             summary ? summary->snapshot_id : "");
    if (code == 0 && summary) return *summary;
    Diagnosis d = Diagnose(proc->err_text());
    if (!AgainAfterLock(d, attempt)) Throw(d, repo_, "back up " + dir);
  }
}

std::unique_ptr<StdinBackup> Restic::BackupStdin(const std::string& name, const SnapshotMeta& meta,
                                                 std::function<void()> make_repository) const {
  version();
  std::vector<std::string> args{"backup", "--json", "--stdin", "--stdin-filename", name};
  for (const auto& a : MetaArgs(meta)) args.push_back(a);
  return std::make_unique<HeldStdin>(
      [this, argv = Argv(args)] { return host_->Start(argv, Proc::kStdin | Proc::kStdout | Proc::kDieWithUs); },
      [this](const Diagnosis& d, int attempt) { return AgainAfterLock(d, attempt); }, std::move(make_repository),
      repo_, "store " + name);
}

std::unique_ptr<Proc> Restic::Dump(const std::string& snapshot, const std::string& path) const {
  version();
  return host_->Start(Argv({"dump", "--no-lock", snapshot, path}), Proc::kStdout | Proc::kDieWithUs);
}

std::unique_ptr<Proc> Restic::Ls(const std::string& snapshot) const {
  version();
  return host_->Start(Argv({"ls", "--no-lock", "--json", snapshot}), Proc::kStdout | Proc::kDieWithUs);
}

void Restic::Restore(const std::string& snapshot, const std::string& target, const std::vector<std::string>& includes,
                     const std::vector<std::string>& excludes) const {
  // restic before 0.17 refuses --include and --exclude together.
  if (!includes.empty() && !excludes.empty()) Fail("restic restore takes --include or --exclude, not both");
  std::vector<std::string> args{"restore", snapshot, "--target", target, "--verify"};
  if (version().at_least(0, 15)) args.push_back("--sparse");
  for (const auto& i : includes) args.insert(args.end(), {"--include", i});
  for (const auto& e : excludes) args.insert(args.end(), {"--exclude", e});
  ProcResult r = host_->Run(Argv(args), {}, std::chrono::seconds(0));
  if (r.ok()) return;
  Diagnosis d = Diagnose(r.err);
  if (d.kind == Failure::kOther) {
    const bool full = r.err.find("no space left on device") != std::string::npos;
    Fail("restic could not restore snapshot " + snapshot.substr(0, 8) + " into " + target + ": " + r.error_tail(4) +
         (full ? " (the disk is full: df -h " + target + ")" : ""));
  }
  Throw(d, repo_, "restore snapshot " + snapshot.substr(0, 8));
}

void Restic::Forget(const std::vector<std::string>& ids, bool prune) const {
  if (ids.empty() && !prune) return;
  if (!ids.empty()) {
    std::vector<std::string> args{"forget"};
    args.insert(args.end(), ids.begin(), ids.end());
    Call(args, "forget snapshots");
  }
  if (prune) Call({"prune"}, "prune the repository");
}

std::string Restic::Check(bool read_data) const {
  version();
  std::vector<std::string> args{"check"};
  if (read_data) args.push_back("--read-data");
  ProcResult r = host_->Run(Argv(args), {}, std::chrono::seconds(0));
  if (r.ok()) return "";
  Diagnosis d = Diagnose(r.err);
  if (d.kind != Failure::kOther) Throw(d, repo_, "check the repository");
  return r.error_tail(8);
}

void Restic::UnlockStale() const {
  try {
    ProcResult r = host_->Run(Argv({"unlock"}), {}, std::chrono::seconds(120));
    if (!r.ok()) TheLog().file_only("restic unlock: " + r.last_error_line());
  } catch (const Error& e) {
    TheLog().file_only(std::string("restic unlock: ") + e.what());
  }
}

void Restic::ChangePassword(const std::string& new_password_file) const {
  Call({"key", "passwd", "--new-password-file", new_password_file}, "change the password");
}

}  // namespace mig::restic
