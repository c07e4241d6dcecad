#include "backup/create.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "backup/catalog.h"
#include "core/error.h"
#include "core/interrupt.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/timer.h"
#include "db/dump.h"
#include "docker/docker.h"
#include "backup/swarm_plan.h"
#include "backup/volume.h"
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
    if (!Taken(existing, buf, "")) return buf;
  }
}

// Now, or the next second when a backup of the repository already has this one.
std::string UniqueTimestamp(const std::vector<Entry>& existing) {
  for (;;) {
    std::string ts = TimestampNow();
    if (!Taken(existing, "", ts)) return ts;
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
  // `host`: where its container runs (a Swarm node over SSH), nullptr for this machine.
  OpenDb(const Install& in, const std::string& container, const Host* host = nullptr)
      : pg([&] {
          db::PgTarget t = in.pg;
          t.container = container;
          t.label = "database";
          t.host = host;
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

// The database part: pg_dump in the container, streamed into a `restic backup --stdin` that
// is ready to read.
DbPart BackupDatabase(OpenDb& d, restic::StdinBackup& out, SharedProgress& progress) {
  db::LiveDump& dump = d.dump;
  DbPart p = d.part;
  dump.Start();
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = 0;
    try {
      n = dump.Read(buf.data(), buf.size());
    } catch (...) {
      out.Abort();  // never a snapshot of a dump cut short
      throw;
    }
    if (n == 0) break;
    try {
      out.write(buf.data(), n);
    } catch (const Error&) {
      dump.Abort();
      out.Finish();  // restic stopped: its error is the cause
      throw;
    }
    p.dump_bytes += n;
    progress.Dump(p.dump_bytes);
  }
  try {
    p.state = dump.End();
  } catch (const Error&) {
    out.Abort();  // never a snapshot of a dump cut short
    throw;
  }
  p.snapshot = out.Finish().snapshot_id;
  return p;
}

// The install's stack on a Swarm, when the engine is a Swarm manager running a stack of the
// install's project name; nullopt for a compose install (docker's own trouble shows later).
std::optional<docker::Swarm> DeployedStack(const std::string& project) {
  docker::SwarmInfo info;
  try {
    info = docker::ProbeSwarm();
  } catch (const Error&) {  // no engine: the compose path says so in its own words
    return std::nullopt;
  }
  if (!info.active) return std::nullopt;
  if (!info.manager) {
    // A Swarm worker may run compose installs too; a stack's tasks here are read from a manager.
    ProcResult r = ThisHost().Run({"docker", "ps", "-q", "--filter", "label=com.docker.stack.namespace=" + project},
                                  {}, std::chrono::seconds(30));
    if (r.ok() && r.out.find_first_not_of(" \n") != std::string::npos)
      BadInput("this docker engine is a Swarm worker running tasks of the stack " + project +
               ": back it up from a manager (DOCKER_HOST=ssh://user@manager, or run migrate there)");
    return std::nullopt;
  }
  if (!docker::Stacks().count(project)) return std::nullopt;
  return docker::ReadSwarm(project, info);
}

struct Cancelled {};  // thrown from the files part's progress to stop its restic

// Whether the parts started early stay (go), and the open database the dump reads (none: no
// database part).
struct GoSignal {
  bool go = false;
  OpenDb* db = nullptr;
};

// The two parts of one backup under one id and timestamp, each on a thread of its own that
// outlives its restic: data/ and the configuration (`restic backup`), and the database (a
// `restic backup --stdin` started at once, fed once Go hands it the open database). Started
// before the repository's listing has answered, so that restic's key derivation and index
// overlap it and the stack's preparation; Discard drops them when the listing says they
// cannot stay.
class Parts {
 public:
  Parts(const Install& in, const restic::Restic& repo, const Manifest& m, std::vector<std::string> paths,
        SharedProgress& progress)
      : in_(in),
        repo_(repo),
        id_(m.id),
        ts_(m.timestamp),
        project_(m.project),
        host_(m.host),
        paths_(std::move(paths)),
        progress_(progress) {}
  ~Parts() { Stop(); }

  void StartFiles() {
    files_ = std::thread([this] {
      try {
        files_sum_ = repo_.Backup(in_.dir, paths_, Meta("files"), [this](const restic::BackupStatus& st) {
          if (cancel_) throw Cancelled{};
          progress_.Files(st);
        });
      } catch (const Cancelled&) {
      } catch (...) {
        files_error_ = std::current_exception();
      }
    });
  }
  void StartDb() {
    has_db_ = true;
    db_ = std::thread([this, go = go_]() mutable {
      try {
        auto out = repo_.BackupStdin("db.dump", Meta("db"));
        const GoSignal g = go.get();
        if (!g.go) return;  // dropped: restic killed, no snapshot
        if (!g.db) Fail("the database was not opened, so it was not dumped");  // never `ready` without it
        db_part_ = BackupDatabase(*g.db, *out, progress_);
      } catch (...) {
        db_error_ = std::current_exception();
      }
    });
  }
  // A Swarm volume (docs/swarm.md): `tar` of `dir` on `host` into a `restic backup --stdin`
  // of its own, started at once and fed once Go says the parts stay.
  void StartVolume(const Host& host, const std::string& dir, const SwarmPart::Volume& v) {
    auto& r = volumes_.emplace_back(std::make_unique<VolumeRun>());
    r->thread = std::thread([this, &host, dir, v, run = r.get(), go = go_]() mutable {
      try {
        auto out = repo_.BackupStdin(v.name + ".tar", Meta(v.part.c_str()));
        if (!go.get().go) return;  // dropped
        try {
          run->bytes = StreamTreeOut(host, dir, [&](const char* b, size_t n) {
            if (cancel_) throw Cancelled{};
            out->write(b, n);
          });
        } catch (...) {
          out->Abort();  // never a snapshot of a volume cut short
          throw;
        }
        run->snapshot = out->Finish().snapshot_id;
      } catch (const Cancelled&) {
      } catch (...) {
        run->error = std::current_exception();
      }
    });
  }
  // The database is open (or there is none) and the parts stay: the dump and the volumes start.
  void Go(OpenDb* d) { Release({true, d}); }
  // Waits for every part.
  void Join() {
    Release({});
    if (files_.joinable()) files_.join();
    if (db_.joinable()) db_.join();
    for (auto& v : volumes_)
      if (v->thread.joinable()) v->thread.join();
  }
  // Stops both parts and forgets a files snapshot already written: nothing of them stays.
  void Discard() {
    Stop();
    if (files_sum_.snapshot_id.empty()) return;
    try {
      repo_.Forget({files_sum_.snapshot_id}, false);
    } catch (const std::exception& e) {
      TheLog().warn("could not forget snapshot " + files_sum_.snapshot_id.substr(0, 8) +
                    " of a dropped start: " + e.what());
    }
  }
  // The parts' results into the manifest; returns the first error in words ("" when both
  // parts ended well).
  std::string Fill(Manifest& m) const {
    m.files = files_sum_.total_files;
    m.bytes = files_sum_.total_bytes;
    m.files_snapshot = files_sum_.snapshot_id;
    if (has_db_ && !db_error_) m.db = db_part_;
    std::vector<std::exception_ptr> errors{db_error_, files_error_};
    for (size_t i = 0; m.swarm && i < volumes_.size() && i < m.swarm->volumes.size(); ++i) {
      m.swarm->volumes[i].bytes = volumes_[i]->bytes;
      m.swarm->volumes[i].snapshot = volumes_[i]->snapshot;
      errors.push_back(volumes_[i]->error);
    }
    for (const auto& e : errors) {
      if (!e) continue;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        return x.what();
      } catch (...) {
        return "an unexpected error";  // never `ready` for a part that did not end well
      }
    }
    return "";
  }

 private:
  restic::SnapshotMeta Meta(const char* part) const {
    return {PartTags(id_, ts_, part, project_), ResticTime(ts_), host_};
  }
  void Release(GoSignal g) {
    if (released_) return;
    released_ = true;
    go_promise_.set_value(g);
  }
  void Stop() {
    cancel_ = true;
    Join();
  }

  const Install& in_;
  const restic::Restic& repo_;
  std::string id_, ts_, project_, host_;
  std::vector<std::string> paths_;
  SharedProgress& progress_;
  std::atomic<bool> cancel_{false};
  struct VolumeRun {
    std::thread thread;
    uint64_t bytes = 0;
    std::string snapshot;
    std::exception_ptr error;
  };
  std::promise<GoSignal> go_promise_;
  std::shared_future<GoSignal> go_ = go_promise_.get_future().share();
  bool released_ = false, has_db_ = false;
  std::thread files_, db_;
  std::vector<std::unique_ptr<VolumeRun>> volumes_;
  restic::BackupSummary files_sum_;
  DbPart db_part_;
  std::exception_ptr files_error_, db_error_;
};

}  // namespace

bool Taken(const std::vector<Entry>& existing, const std::string& id, const std::string& timestamp) {
  return std::any_of(existing.begin(), existing.end(), [&](const Entry& e) {
    return (!id.empty() && e.id == id) || (!timestamp.empty() && e.timestamp == timestamp);
  });
}

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
  InterruptGuard interrupt;  // SIGTERM/SIGINT: the parts stopped, the services started again
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

  m.config = ConfigFiles(in.dir);
  for (const auto& f : m.config)
    if (fs::is_symlink(in.dir + "/" + f, ec))
      BadInput(in.dir + "/" + f + " is a symbolic link: restic keeps a link as a link, so the backup would not hold "
               "its content; not supported yet (make it a file)");
  std::vector<std::string> paths = m.config;
  if (fs::is_directory(in.data_dir())) paths.insert(paths.begin(), "data");
  m.timestamp = TimestampNow();
  m.id = NewId({});
  lock.Describe(RunningDescription({m.id, m.timestamp}));

  // The repository is asked (and made when there is none) while the install's stack is
  // prepared and the parts' restic start under this id and timestamp (docs/backup.md).
  // Stale restic locks: a job on this install that was killed left its restic's, cleared
  // beside the listing (`restic unlock` pays restic's key derivation: not on every run); a
  // stale exclusive lock of anything else stops the parts' restic, which clear it and start
  // again (Restic::Backup, BackupStdin).
  const bool unlock = !lock.abandoned().empty();
  if (unlock)
    TheLog().warn("the last job on " + in.dir + " did not end (" + lock.abandoned() + "): clearing stale restic locks");
  auto asked = std::async(std::launch::async, [&repo, unlock] {
    auto unlocking = std::async(unlock ? std::launch::async : std::launch::deferred, [&repo] { repo.UnlockStale(); });
    auto snaps = repo.SnapshotsIfAny({kTag});
    if (unlock) unlocking.wait();
    const bool created = !snaps;
    if (created) repo.Init();
    return std::make_pair(created, Group(snaps ? *snaps : std::vector<restic::Snapshot>{}, std::nullopt));
  });
  // A stack on a Swarm (docs/swarm.md) is asked for beside the listing: its database and
  // volumes are then read on their nodes, over SSH.
  auto swarm_asked = std::async(std::launch::async, [&in] { return DeployedStack(in.project_name); });
  SharedProgress progress(o.progress);
  const bool with_db = !in.db_service.empty();
  // A Swarm's nodes outlive the open database and the parts, which run programs there.
  std::optional<docker::Swarm> swarm;
  std::optional<NodeHosts> nodes;
  docker::ScaledDown scaled;  // --suspend on a Swarm
  std::optional<OpenDb> database;  // outlives the parts, which read it
  auto parts = std::make_unique<Parts>(in, repo, m, paths, progress);
  if (with_db) parts->StartDb();
  if (!o.suspend) parts->StartFiles();
  docker::Stack stack(docker::DetectCompose(), in.dir, in.project.file, in.project_name);
  StopDbAgain db_again{stack, in.db_service};
  PausedServices paused(stack);
  std::vector<std::pair<const Host*, std::string>> volume_dirs;  // each Swarm volume's node and folder
  try {
    swarm = swarm_asked.get();
    std::string container;
    if (swarm) {
      const SwarmBackupPlan plan = PlanSwarmBackup(*swarm, in.db_service);
      m.swarm = plan.part;
      if (o.suspend) {  // the writers scaled to 0 (never a global service: it cannot be), back after
        const auto writers = docker::Writers(*swarm, in.db_service);
        for (const auto& svc : swarm->services) {
          if (std::none_of(writers.begin(), writers.end(), [&](const auto& w) { return w.first == svc.name; })) continue;
          // Scaled back, Swarm places its tasks again: a service with a volume of a node stays on it
          // only when a constraint pins it there.
          const bool pinned = std::any_of(svc.constraints.begin(), svc.constraints.end(), [](const std::string& c) {
            return (c.rfind("node.hostname", 0) == 0 || c.rfind("node.id", 0) == 0) && c.find("==") != std::string::npos;
          });
          if (!svc.volumes.empty() && !pinned)
            BadInput("--suspend would scale " + svc.name + " to 0 and back, and Swarm may then start it on another "
                     "node than the one holding its volume " + svc.volumes.front().name +
                     ": pin it (deploy.placement.constraints: node.hostname == ...) or back up without --suspend");
          m.suspended.push_back(svc.short_name);  // as the compose file names them, as for compose
        }
        scaled.ToZero(writers, "for the backup");
        parts->StartFiles();
      }
      nodes.emplace(*swarm, o.nodes);
      std::set<std::string> checked;
      for (const auto& v : m.swarm->volumes) {
        nodes->Open(v.node);
        const Host& h = nodes->Of(v.node);
        if (checked.insert(v.node).second) RequireGnuTar(h);
        const std::string dir = VolumeMountpoint(h, v.name);
        if (dir.empty())
          Fail("node " + v.node + " has no volume " + v.name + " although a task of " + v.service + " runs there");
        volume_dirs.emplace_back(&h, dir);  // their restic start once the repository is known
      }
      if (!plan.db_node.empty()) {
        nodes->Open(plan.db_node);
        const Host& h = nodes->Of(plan.db_node);
        database.emplace(in, docker::TaskContainer(h, plan.db_task_service, plan.db_node), &h);
      }
    } else {
      if (with_db) container = EnsureDbRunning(stack, in, o.wait_seconds, db_again.started);
      if (o.suspend) {
        paused.Pause(RunningServices(stack, in.db_service), "for the backup");
        m.suspended = paused.paused();
        parts->StartFiles();
      }
      if (!container.empty()) database.emplace(in, container);
    }
  } catch (...) {
    parts->Discard();
    asked.wait();
    throw;
  }
  std::pair<bool, std::vector<Entry>> listing;
  try {
    listing = asked.get();  // of every install: timestamps unique in the repository
  } catch (...) {
    parts->Discard();
    throw;
  }
  auto& [created, existing] = listing;
  // The early files part may already be in the listing: this backup, not a collision.
  existing.erase(std::remove_if(existing.begin(), existing.end(),
                                [&](const Entry& e) { return e.id == m.id && e.timestamp == m.timestamp; }),
                 existing.end());
  if (created) TheLog().info("created a restic repository at " + repo.repo().where());
  if (created || Taken(existing, m.id, m.timestamp)) {
    // The parts started into no repository, or under an id or a timestamp the repository
    // already has: dropped, and started again under new ones.
    parts->Discard();
    if (!created) {  // a new repository has neither: the backup keeps the id and timestamp it announced
      m.timestamp = UniqueTimestamp(existing);
      m.id = NewId(existing);
      lock.Describe(RunningDescription({m.id, m.timestamp}));
    }
    parts = std::make_unique<Parts>(in, repo, m, paths, progress);
    if (with_db) parts->StartDb();
    parts->StartFiles();
  }
  // A volume's restic is started only now: one that had opened a repository made meanwhile and
  // was then dropped would leave its lock behind (it is killed, not asked to end).
  for (size_t i = 0; i < volume_dirs.size(); ++i)
    parts->StartVolume(*volume_dirs[i].first, volume_dirs[i].second, m.swarm->volumes[i]);
  TheLog().info("backup " + m.timestamp + " (id " + m.id + ") of " + in.dir + " into " + repo.repo().where());
  parts->Go(database ? &*database : nullptr);
  parts->Join();
  progress.Done();

  // What went wrong first, in words; the services are put back before the manifest is written.
  std::string error = parts->Fill(m);
  const int sig = InterruptGuard::Signal();
  std::string restart_error;
  try {
    paused.StartAgain();
    scaled.ScaleBack();
  } catch (const Error& e) {
    restart_error = e.what();
    if (error.empty()) error = e.what();
  }
  if (sig) {  // no manifest: the parts are listed failed, and a daemon forgets them
    repo.UnlockStale();  // the locks of the restic it stopped
    Fail("backup " + m.timestamp + " interrupted (" + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")" +
         (m.suspended.empty() ? ""
          : restart_error.empty() ? "; the services it stopped are started again"
                                  : "; starting the services it stopped again failed: " + restart_error));
  }
  if (!error.empty()) repo.UnlockStale();  // a part's restic stopped (a node lost, a failed dump) left its lock
  m.finished = UtcNow();
  m.status = error.empty() ? "ready" : "failed";
  m.error = error;
  auto w = repo.BackupStdin("manifest.json", {ManifestTags(m), ResticTime(m.timestamp), m.host});
  const std::string text = ToJson(m).dump(2) + "\n";
  w->write(text.data(), text.size());
  w->Finish();
  if (!error.empty()) Fail("backup " + m.timestamp + " failed: " + error);
  return m;
}

}  // namespace mig::backup
