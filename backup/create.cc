#include "backup/create.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <random>
#include <set>

#include "backup/catalog.h"
#include "backup/parts.h"
#include "core/error.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timer.h"
#include "docker/docker.h"
#include "backup/swarm_plan.h"
#include "backup/volume.h"
#include "install/install.h"
#include "install/stack.h"

namespace fs = std::filesystem;

namespace mig::backup {

namespace {

std::string Hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
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

// An error in words; `bad_input`: the operator must change what they asked (a wrong password,
// none): exit 2, and no manifest can be written either.
std::string Words(const std::exception_ptr& e, bool* bad_input = nullptr) {
  try {
    std::rethrow_exception(e);
  } catch (const Error& x) {
    if (bad_input) *bad_input = x.kind() != ErrorKind::kFailed;
    return x.what();
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an unexpected error";  // never `ready` for a part that did not end well
  }
}

// Files and bytes under `paths` (relative to `dir`): regular files, as restic counts them.
std::pair<uint64_t, uint64_t> CountFiles(const std::string& dir, const std::vector<std::string>& paths) {
  uint64_t files = 0, bytes = 0;
  auto add = [&](const fs::directory_entry& e) {
    std::error_code ec;
    if (!e.is_regular_file(ec) || e.is_symlink(ec)) return;
    ++files;
    const auto n = e.file_size(ec);
    if (!ec) bytes += n;
  };
  for (const auto& p : paths) {
    std::error_code ec;
    const fs::directory_entry top(dir + "/" + p, ec);
    if (ec) continue;
    add(top);
    if (!top.is_directory(ec) || top.is_symlink(ec)) continue;
    for (fs::recursive_directory_iterator it(top.path(), fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec))
      add(*it);
  }
  return {files, bytes};
}

// Now, or the next second when the install's last backup took this one (its record says:
// backup/.last-timestamp, written here): timestamps stay unique among the install's backups
// without listing the repository. A clock set back is not waited for.
std::string NewTimestamp(const std::string& install_dir) {
  const std::string record = install_dir + "/backup/.last-timestamp";
  const std::string last = TrimEnd(ReadSmallFile(record, 256).value_or(""));
  std::string ts = TimestampNow();
  while (ts == last) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ts = TimestampNow();
  }
  WriteFileAtomic(record, ts + "\n");
  return ts;
}

std::string NewId() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
  return buf;
}

// Stores the manifest of a backup that failed as a part of its own (the files part, which
// carries a ready one, was not written or is forgotten after this); false when it could not.
bool StoreFailedManifest(const restic::Restic& repo, RepositoryOnDemand& made, const Manifest& m) {
  try {
    auto w = repo.BackupStdin("manifest.json", {ManifestTags(m, "manifest"), ResticTime(m.timestamp), m.host},
                              [&made] { made.Make(); });
    const std::string text = ToJson(m).dump(2) + "\n";
    w->write(text.data(), text.size());
    w->Finish();
    return true;
  } catch (const Error& e) {  // the failure itself is what the operator must hear
    TheLog().warn("could not store the manifest of the failed backup " + m.timestamp + ": " + e.what());
    return false;
  }
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
  m.timestamp = NewTimestamp(in.dir);
  m.id = NewId();
  lock.Describe(RunningDescription({m.id, m.timestamp}));
  TheLog().info("backup " + m.timestamp + " (id " + m.id + ") of " + in.dir + " into " + repo.repo().where());

  // The database's restic starts at once, under this id and timestamp, while the install's
  // stack is prepared (docs/backup.md); the repository is made when it finds none. Stale
  // restic locks: a job on this install that was killed left its restic's, cleared beside it
  // (`restic unlock` pays restic's key derivation: not on every run); a stale exclusive lock of
  // anything else stops a part's restic, which clears it and starts again (Restic::Backup,
  // BackupStdin).
  const bool unlock = !lock.abandoned().empty();
  if (unlock)
    TheLog().warn("the last job on " + in.dir + " did not end (" + lock.abandoned() + "): clearing stale restic locks");
  auto unlocking = std::async(unlock ? std::launch::async : std::launch::deferred, [&repo] { repo.UnlockStale(); });
  // A stack on a Swarm (docs/swarm.md) is asked for beside it: its database and volumes are
  // then read on their nodes, over SSH.
  auto swarm_asked = std::async(std::launch::async, [&in] { return DeployedStack(in.project_name); });
  // So are the compose program and the project's containers (for a compose install: whether
  // its database runs), each a program of its own that would otherwise wait for the other.
  auto compose_asked = std::async(std::launch::async, [] { return docker::DetectCompose(); });
  auto containers_asked =
      std::async(std::launch::async, [&in] { return docker::ProjectContainers(in.project_name); }).share();
  SharedProgress progress(o.progress);
  RepositoryOnDemand made(repo);
  const bool with_db = !in.db_service.empty();
  // A Swarm's nodes outlive the open database and the parts, which run programs there.
  std::optional<docker::Swarm> swarm;
  std::optional<NodeHosts> nodes;
  docker::ScaledDown scaled;  // --suspend on a Swarm
  std::optional<db::Postgres> early_pg;  // outlives `database`, which may take its early session (below)
  std::optional<OpenDb> database;        // outlives the parts, which read it
  StreamParts parts(repo, made, m, progress);
  if (with_db) parts.StartDb();
  // The database's session starts as soon as its container is seen running (the engine's API
  // answers in milliseconds), beside the compose program's and the Swarm's answers: its login
  // leaves the path to pg_dump. Used when the compose path below opens that container.
  std::unique_ptr<db::OpeningSession> early_session;
  std::string early_container;
  if (with_db) {
    try {
      early_container = docker::RunningContainer(containers_asked.get(), in.db_service);
    } catch (const Error&) {  // said where the containers are needed below
    }
    if (!early_container.empty()) {
      early_pg.emplace(DbTarget(in, early_container));
      early_session = std::make_unique<db::OpeningSession>(*early_pg, in.pg.db);
    }
  }
  docker::Stack stack(compose_asked.get(), in.dir, in.project.file, in.project_name);
  StopDbAgain db_again{stack, in.db_service};
  PausedServices paused(stack);
  std::vector<std::pair<const Host*, std::string>> volume_dirs;  // each Swarm volume's node and folder
  try {
    swarm = swarm_asked.get();
    std::string container;
    if (swarm) {
      early_session.reset();  // a compose container of the same name is not the stack's database
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
        volume_dirs.emplace_back(&h, dir);
      }
      if (!plan.db_node.empty()) {
        nodes->Open(plan.db_node);
        const Host& h = nodes->Of(plan.db_node);
        database.emplace(in, docker::TaskContainer(h, plan.db_task_service, plan.db_node), &h);
      }
    } else {
      if (with_db) {
        container = docker::RunningContainer(containers_asked.get(), in.db_service);
        if (container.empty()) container = EnsureDbRunning(stack, in, o.wait_seconds, db_again.started);
      }
      if (o.suspend) {
        paused.Pause(RunningServices(stack, in.db_service), "for the backup");
        m.suspended = paused.paused();
      }
      if (!container.empty())
        database.emplace(in, container, nullptr, container == early_container ? std::move(early_session) : nullptr);
    }
  } catch (...) {
    parts.Stop();
    if (unlock) unlocking.wait();
    throw;
  }
  parts.Go(database ? &*database : nullptr);
  for (size_t i = 0; i < volume_dirs.size(); ++i)
    parts.StartVolume(*volume_dirs[i].first, volume_dirs[i].second, m.swarm->volumes[i]);
  // data/ is counted for the manifest while the dump runs.
  auto counted = std::async(std::launch::async, [&in, &paths] { return CountFiles(in.dir, paths); });
  parts.Join();
  if (unlock) unlocking.wait();

  // The last part: data/ and the configuration, with the manifest (docs/backup.md).
  std::exception_ptr failure = parts.Fill(m);
  std::tie(m.files, m.bytes) = counted.get();
  bool written = false;     // the files part, and with it the backup, is in the repository
  bool incomplete = false;  // restic wrote it without every file: its failed manifest is written
  if (!failure && !InterruptGuard::Signal()) {
    m.status = "ready";
    m.finished = UtcNow();
    const std::string manifest_file = in.dir + "/backup/manifest.json";
    std::vector<std::string> with_manifest = paths;
    with_manifest.push_back("backup/manifest.json");
    try {
      WriteFileAtomic(manifest_file, ToJson(m).dump(2) + "\n", 0600);
      made.Run([&] {
        // Never a killed restore's half-staged tree inside a data/ that is a mount point.
        return repo.Backup(in.dir, with_manifest, {ManifestTags(m, "files"), ResticTime(m.timestamp), m.host},
                           {std::string("data/") + kRestoreStageName},
                           [&](const restic::BackupStatus& st) { progress.Files(st); });
      });
      written = true;
    } catch (const restic::IncompleteBackup& e) {
      // restic wrote the part without some files, its tags saying `ready`: a failed manifest
      // part says otherwise at once (before anything slower can be cut short by a kill), then
      // the snapshot is forgotten.
      failure = std::current_exception();
      incomplete = true;
      fs::remove(manifest_file, ec);
      Manifest failed = m;
      failed.status = "failed";
      failed.error = e.what();
      failed.finished = UtcNow();
      const bool stored = StoreFailedManifest(repo, made, failed);
      bool forgotten = true;
      try {
        if (!e.snapshot_id.empty()) repo.Forget({e.snapshot_id}, false);
      } catch (const std::exception& x) {
        forgotten = false;
        TheLog().warn("could not forget the incomplete snapshot " + e.snapshot_id.substr(0, 8) + ": " + x.what());
      }
      if (!stored && !forgotten)
        failure = std::make_exception_ptr(Error(
            ErrorKind::kFailed, std::string(e.what()) + "; its snapshot " + e.snapshot_id.substr(0, 8) +
                                    " could be neither marked failed nor forgotten, so it is listed ready: delete it "
                                    "(migrate backup delete " + m.id + ")"));
    } catch (...) {
      failure = std::current_exception();
    }
    fs::remove(manifest_file, ec);
  }
  progress.Done();

  // The services are put back before the failure is recorded.
  const int sig = InterruptGuard::Signal();
  bool bad_input = false;
  std::string error = failure ? Words(failure, &bad_input) : "";
  std::string restart_error;
  try {
    paused.StartAgain();
    scaled.ScaleBack();
  } catch (const Error& e) {
    restart_error = e.what();
    if (error.empty()) error = e.what();
  }
  if (written) {  // complete: a signal that came at the end, or a restart that failed, is only said
    if (sig) TheLog().warn("backup " + m.timestamp + " was complete when the signal came: it is kept, ready");
    if (!restart_error.empty())
      Fail("backup " + m.timestamp + " (id " + m.id + ") is ready, but starting the services it stopped again "
           "failed: " + restart_error);
    return m;
  }
  if (bad_input && restart_error.empty()) std::rethrow_exception(failure);  // the repository cannot be opened
  repo.UnlockStale();  // the locks of a restic stopped (a node lost, a failed dump)
  // Failed: a manifest part that says so (none when interrupted: the parts are then listed
  // failed, and a daemon forgets them; an incomplete files part had its own written above).
  m.finished = UtcNow();
  m.status = "failed";
  m.error = error;
  if (!sig && !incomplete) StoreFailedManifest(repo, made, m);
  if (sig)
    Fail("backup " + m.timestamp + " interrupted (" + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")" +
         (m.suspended.empty() ? ""
          : restart_error.empty() ? "; the services it stopped are started again"
                                  : "; starting the services it stopped again failed: " + restart_error));
  Fail("backup " + m.timestamp + " failed: " + error);
}

}  // namespace mig::backup
