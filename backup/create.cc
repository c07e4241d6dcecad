#include "backup/create.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "backup/catalog.h"
#include "core/error.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/timer.h"
#include "db/dump.h"
#include "docker/docker.h"
#include "install/stack.h"

namespace fs = std::filesystem;

namespace mig::backup {

namespace {

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string NewId(const std::vector<Entry>& existing) {
  std::random_device rd;
  for (;;) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    bool taken = std::any_of(existing.begin(), existing.end(), [&](const Entry& e) { return e.id == buf; });
    if (!taken) return buf;
  }
}

// Now, or the next second when a backup of the repository already has this one.
std::string UniqueTimestamp(const std::vector<Entry>& existing) {
  for (;;) {
    std::string ts = TimestampNow();
    bool taken = std::any_of(existing.begin(), existing.end(), [&](const Entry& e) { return e.timestamp == ts; });
    if (!taken) return ts;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Stops again the database a backup started (when it was down), on every way out.
struct StopDbAgain {
  const docker::Stack& stack;
  std::string service;
  bool started = false;
  ~StopDbAgain() {
    if (!started) return;
    try {
      stack.Stop({service});
    } catch (const std::exception& e) {
      TheLog().warn(e.what());
    } catch (...) {
    }
  }
};

// Progress of the two parts written at once, shown as one.
class SharedProgress {
 public:
  explicit SharedProgress(ProgressMode mode) : p_("backup", 0, mode) {}
  void Files(const restic::BackupStatus& st) {
    std::lock_guard<std::mutex> g(mu_);
    files_ = st;
    Show();
  }
  void Dump(uint64_t bytes) {
    std::lock_guard<std::mutex> g(mu_);
    dump_ = bytes;
    Show();
  }
  void Done() {
    std::lock_guard<std::mutex> g(mu_);
    p_.Done();
  }

 private:
  void Show() {
    if (files_.total_bytes) p_.SetTotal(files_.total_bytes + dump_);
    p_.Update(files_.files_done, files_.bytes_done + dump_, files_.bytes_done + dump_);
  }
  std::mutex mu_;
  Progress p_;
  restic::BackupStatus files_;
  uint64_t dump_ = 0;
};

// The database side of a backup, opened while the repository is asked: the exported snapshot
// the dump and the counts will read, the roles, locale and major version.
struct OpenDb {
  db::Postgres pg;
  db::LiveDump dump;
  DbPart part;
  OpenDb(const Install& in, const std::string& container)
      : pg([&] {
          db::PgTarget t = in.pg;
          t.container = container;
          t.label = "database";
          return t;
        }()),
        dump(pg, "the database") {
    part.major = dump.Major();
    part.name = in.pg.db;
    part.user = in.pg.user;
    part.service = in.db_service;
    part.roles = dump.Roles();
    part.locale = dump.Locale();
  }
};

// The database part: pg_dump in the container, streamed into `restic backup --stdin`.
DbPart BackupDatabase(OpenDb& d, const restic::Restic& repo, const restic::SnapshotMeta& meta,
                      SharedProgress& progress) {
  db::LiveDump& dump = d.dump;
  DbPart p = d.part;
  auto out = repo.BackupStdin("db.dump", meta);
  dump.Start();
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = 0;
    try {
      n = dump.Read(buf.data(), buf.size());
    } catch (...) {
      out->Abort();  // never a snapshot of a dump cut short
      throw;
    }
    if (n == 0) break;
    try {
      out->write(buf.data(), n);
    } catch (const Error&) {
      dump.Abort();
      out->Finish();  // restic stopped: its error is the cause
      throw;
    }
    p.dump_bytes += n;
    progress.Dump(p.dump_bytes);
  }
  try {
    p.state = dump.End();
  } catch (const Error&) {
    out->Abort();  // never a snapshot of a dump cut short
    throw;
  }
  p.snapshot = out->Finish().snapshot_id;
  return p;
}

}  // namespace

std::vector<std::string> ConfigFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("backup.tar", 0) == 0) continue;  // an exported backup is not configuration
    if (e.is_symlink(ec) || e.is_regular_file(ec)) out.push_back(name);
  }
  if (ec) Fail("cannot list " + dir + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

Manifest CreateBackup(const Install& in, const restic::Restic& repo, const CreateOptions& o) {
  std::error_code ec;
  if (fs::is_symlink(in.data_dir(), ec))
    BadInput(in.data_dir() + " is a symbolic link (to " + fs::read_symlink(in.data_dir(), ec).string() +
             "): restic keeps a link as a link, so the backup would hold no files; not supported yet (make data/ "
             "a folder, e.g. a bind mount of the other disk)");
  JobLock lock(JobLockPath(in.dir), "another job (backup, restore or migration) is running on " + in.dir);
  Manifest m;
  m.started = UtcNow();
  m.host = Hostname();
  m.name = o.name;
  m.path = in.dir;
  m.version = in.version;
  m.project = in.project_name;
  for (const auto& s : in.project.services) m.services.push_back(s.name);
  m.migrate_version = MIGRATE_VERSION;
  m.restic_version = repo.version().text();

  // The repository is asked (and made when there is none) while the install's stack is.
  auto asked = std::async(std::launch::async, [&repo] {
    // A stale lock (a restic killed with its backup) would stop the parts' restic: cleared
    // beside the listing.
    auto unlocking = std::async(std::launch::async, [&repo] { repo.UnlockStale(); });
    auto snaps = repo.SnapshotsIfAny({kTag});
    unlocking.wait();
    const bool created = !snaps;
    if (created) repo.Init();
    return std::make_pair(created, Group(snaps ? *snaps : std::vector<restic::Snapshot>{}, std::nullopt));
  });
  docker::Stack stack(docker::DetectCompose(), in.dir, in.project.file, in.project_name);
  StopDbAgain db_again{stack, in.db_service};
  PausedServices paused(stack);
  std::optional<OpenDb> database;
  try {
    std::string container;
    if (!in.db_service.empty()) container = EnsureDbRunning(stack, in, o.wait_seconds, db_again.started);
    if (o.suspend) {
      paused.Pause(RunningServices(stack, in.db_service), "for the backup");
      m.suspended = paused.paused();
    }
    if (!container.empty()) database.emplace(in, container);
  } catch (...) {
    asked.wait();
    throw;
  }
  auto [created, existing] = asked.get();  // of every install: timestamps unique in the repository
  if (created) TheLog().info("created a restic repository at " + repo.repo().where());
  m.timestamp = UniqueTimestamp(existing);
  m.id = NewId(existing);
  lock.Describe(RunningDescription({m.id, m.timestamp}));
  TheLog().info("backup " + m.timestamp + " (id " + m.id + ") of " + in.dir + " into " + repo.repo().where());

  m.config = ConfigFiles(in.dir);
  for (const auto& f : m.config)
    if (fs::is_symlink(in.dir + "/" + f, ec))
      BadInput(in.dir + "/" + f + " is a symbolic link: restic keeps a link as a link, so the backup would not hold "
               "its content; not supported yet (make it a file)");
  std::vector<std::string> paths = m.config;
  if (fs::is_directory(in.data_dir())) paths.insert(paths.begin(), "data");

  const std::string when = ResticTime(m.timestamp);
  SharedProgress progress(o.progress);
  std::exception_ptr files_error, db_error;
  std::thread files([&] {
    try {
      auto sum = repo.Backup(in.dir, paths, {PartTags(m.id, m.timestamp, "files", m.project), when, m.host},
                             [&](const restic::BackupStatus& st) { progress.Files(st); });
      m.files = sum.total_files;
      m.bytes = sum.total_bytes;
      m.files_snapshot = sum.snapshot_id;
    } catch (...) {
      files_error = std::current_exception();
    }
  });
  if (database) {
    try {
      m.db = BackupDatabase(*database, repo, {PartTags(m.id, m.timestamp, "db", m.project), when, m.host}, progress);
    } catch (...) {
      db_error = std::current_exception();
    }
  }
  files.join();
  progress.Done();

  // What went wrong first, in words; the services are put back before the manifest is written.
  std::string error;
  for (auto* e : {&db_error, &files_error}) {
    if (!*e || !error.empty()) continue;
    try {
      std::rethrow_exception(*e);
    } catch (const std::exception& x) {
      error = x.what();
    } catch (...) {
      error = "an unexpected error";  // never `ready` for a part that did not end well
    }
  }
  try {
    paused.StartAgain();
  } catch (const Error& e) {
    if (error.empty()) error = e.what();
  }
  m.finished = UtcNow();
  m.status = error.empty() ? "ready" : "failed";
  m.error = error;
  auto w = repo.BackupStdin("manifest.json", {ManifestTags(m), when, m.host});
  const std::string text = ToJson(m).dump(2) + "\n";
  w->write(text.data(), text.size());
  w->Finish();
  if (!error.empty()) Fail("backup " + m.timestamp + " failed: " + error);
  return m;
}

}  // namespace mig::backup
