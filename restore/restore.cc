#include "restore/restore.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <optional>

#include "backup/create.h"
#include "backup/manifest.h"
#include "core/error.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "core/text.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/timer.h"
#include "db/replay.h"
#include "docker/docker.h"
#include "install/install.h"
#include "install/stack.h"
#include "install/standby.h"
#include "pipeline/confirm.h"
#include "pipeline/replay_step.h"
#include "pipeline/run_dir.h"
#include "pipeline/safety_copy.h"
#include "restore/config_step.h"
#include "restore/data_step.h"
#include "restore/skips.h"
#include "restore/source.h"
#include "restore/swarm_restore.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

// A standby restore is refused once the install was promoted: it is the primary now.
void RefusePromoted(const std::string& dir) {
  if (auto st = ReadStandbyState(dir); st && st->promoted())
    Fail(dir + " was promoted at " + st->promoted_at + " (" + StandbyStatePath(dir) +
         "): it is a primary now, and a standby restore never replaces it");
}

// A standby is restored again and again: only its last restore's folder (the safety copy to
// roll back to) is kept.
void RemoveOtherRunDirs(const std::string& root, const std::string& keep) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path() == fs::path(keep) || !e.is_directory(ec) || e.is_symlink(ec) || name.empty() ||
        !std::isdigit(static_cast<unsigned char>(name[0])))
      continue;
    std::error_code rec;
    fs::remove_all(e.path(), rec);
    if (rec) TheLog().warn("could not remove the earlier standby restore " + e.path().string() + ": " + rec.message());
  }
}

// data/ a mount point: its safety copy is a copy on the install's disk, not hard links; refused
// before it begins when that disk has not the room for it (a twentieth more for its folders).
void CheckRoomForCopy(const std::string& data_dir, const std::string& run_dir) {
  std::error_code ec;
  if (fs::exists(run_dir + "/data.backup", ec)) return;  // a resumed restore's, made before
  struct statvfs v {};
  if (::statvfs(run_dir.c_str(), &v) != 0) return;  // the copy itself then says what fails
  const uint64_t free = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  const uint64_t need = MeasureTree(data_dir).bytes;
  if (need + need / 20 > free)
    Fail(data_dir + " is a mount point: its safety copy is a copy in " + run_dir + ", which needs " +
         HumanBytes(need) + " and has " + HumanBytes(free) + " free; make room there, or restore with --skip-data "
         "after a copy of data/ of your own");
}

}  // namespace

Report RunRestore(const RestoreOptions& o, const restic::Repo& repo) {
  Report rep;
  rep.command = "restore";
  rep.started_at = UtcNow();
  rep.dry_run = o.dry_run;
  std::string dir = fs::weakly_canonical(fs::absolute(o.to_path.empty() ? "." : o.to_path)).string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  rep.to = dir;
  std::string run_dir, root = dir + "/restore";
  RunState state;
  std::optional<Install> in;
  bool data_swapped = false, db_swapped = false, onto_swarm = false;
  try {
    const bool fresh = HoldsNoInstall(dir);
    std::unique_ptr<RestoreSource> source = [&] {
      Step step(rep, "choose backup");
      // `latest` is among this install's backups (a repository may hold several installs').
      const std::string project =
          fresh || NamesFile(o.which) ? "" : LoadInstall(dir, "target", "", o.project, ProcessEnv()).project_name;
      auto src = NamesFile(o.which) ? FromFile(o.which) : FromRepository(repo, o.which, dir, project);
      step.Done(src->Describe() + ", release " + src->manifest().version);
      return src;
    }();
    const backup::Manifest& m = source->manifest();
    rep.from = source->Describe();
    if (m.swarm) {
      onto_swarm = true;  // it reports and words its own failure
      return RestoreOntoSwarm(o, *source, dir, fresh, std::move(rep));
    }
    if (o.standby) RefusePromoted(dir);
    if (fresh && o.dry_run) {
      rep.Check("install", true, dir + " holds no install: a restore creates it from the backup's configuration (" +
                                     Joined(m.config) + ") and starts it");
      rep.result = "ok";
      return rep;
    }
    // The install, the release and --skip are checked before anything is written (a fresh
    // folder has no install yet: it is checked once its configuration is restored).
    Keep keep;
    auto load = [&] {
      in.emplace(LoadInstall(dir, "target", o.skip_db ? "" : o.db_service, o.project, ProcessEnv()));
      if (!m.version.empty() && m.version != in->version && !o.yes)
        BadInput("backup " + m.timestamp + " is of release " + m.version + ", this install is " +
                 (in->version.empty() ? std::string("of no VERSION") : "release " + in->version) +
                 ": its database would be replayed into this release's postgres as a migration does; add --yes "
                 "to restore it anyway");
      keep = ResolveSkips(in->project, in->data_dir(), in->db_service, o.skip);
      std::error_code ec;
      if (!o.skip_data && !keep.data && fs::is_symlink(in->data_dir(), ec))
        BadInput(in->data_dir() + " is a symbolic link: a restore puts a folder in its place in one rename, which "
                 "would replace the link; not supported yet (make data/ a folder, e.g. a bind mount of the other "
                 "disk), or restore with --skip-data");
    };
    if (!fresh) load();
    if (o.standby && !fresh && !ReadStandbyState(dir)) {
      // The first standby restore over an install: never over one that serves (a standby
      // configured with the primary's path by mistake).
      docker::Stack live(docker::DetectCompose(), in->dir, in->project.file, in->project_name);
      const auto serving = RunningServices(live, in->db_service);
      if (!serving.empty())
        BadInput(dir + " runs " + Joined(serving) + " and is no standby yet (no " + StandbyStatePath(dir) +
                 "): a standby restore stops every service but the database, so it is not done over an install "
                 "that serves; if this is the standby, stop them first (docker compose stop)");
    }
    if (!o.dry_run)
      ConfirmOrCancel(o.yes, "Replace " + dir + "'s data/ and database with " + source->Describe() +
                     (o.with_config ? " (and its .env and custom.env)" : ""));
    // SIGTERM and SIGINT from here (after the question: at the prompt they end the command):
    // the programs running are stopped, the restore stops before it replaces anything, and
    // unwinds as a failure (the services started again, nothing replaced). From the database's
    // swap on (data/ is staged by then) a signal is only recorded: the restore finishes (Hold).
    std::optional<InterruptGuard> interrupt;
    std::optional<InterruptGuard::Hold> finishing;
    std::optional<JobLock> lock;
    if (!o.dry_run) {
      interrupt.emplace();
      fs::create_directories(dir);
      lock.emplace(JobLockPath(dir), "another job (backup, restore or migration) is running on " + dir);
      lock->Describe("restore of " + m.timestamp);
      if (o.standby) RefusePromoted(dir);  // again, now that no promotion can run
      RunDir rd = OpenRunDir(root);
      run_dir = rd.path;
      rep.resumed = rd.resumed;
      rep.migration_dir = run_dir;
      TheLog().open_file(run_dir + "/restore.log");
      TheLog().info(std::string(rd.resumed ? "resuming" : "starting") + " the restore of backup " + m.timestamp +
                    " (" + m.id + ") into " + dir);
    }
    if (fresh || (o.with_config && !o.dry_run)) {
      Step step(rep, "restore configuration");
      const std::vector<std::string> files = RestoreConfig(*source, dir, run_dir, fresh);
      step.Done(Joined(files));
      load();  // what the restored configuration says
    }
    const bool skip_db = o.skip_db || keep.db || !m.db || in->db_service.empty();
    const bool skip_data = o.skip_data || keep.data;
    const bool data_mounted = !skip_data && DataIsMountPoint(in->data_dir());  // docs/backup.md "Limits"

    docker::Stack stack(docker::DetectCompose(), in->dir, in->project.file, in->project_name);
    if (o.dry_run) {
      Step step(rep, "plan");
      std::string d = "data/: " + (skip_data ? std::string("kept as it is")
                                            : "replaced by the backup's (" + std::to_string(m.files) + " files, " +
                                                  HumanBytes(m.bytes) + ")" +
                                                  (keep.paths.empty() ? "" : ", keeping " + Joined(keep.paths)) +
                                                  (data_mounted ? "; a mount point: staged inside it, put in place entry by entry"
                                                                : ""));
      d += "; database: " + (skip_db ? std::string("kept as it is")
                                    : in->pg.db + " replaced by the backup's " + m.db->name + " (" +
                                          std::to_string(m.db->state.tables.size()) + " tables)");
      d += "; services stopped for it: " + Joined(RunningServices(stack, in->db_service));
      if (!o.quiet && !o.json) std::cout << d << "\n";
      step.Done(d);
      rep.result = "ok";
      return rep;
    }

    bool db_started = false;
    std::string container;
    if (!skip_db) container = EnsureDbRunning(stack, *in, o.wait_seconds, db_started);
    in->pg.container = container;
    std::optional<db::Postgres> pg;
    if (!skip_db) pg.emplace(in->pg);
    // The current database's dump of the safety copy, taken beside the data/ staging and the
    // replay into the staging database, waited for before the swap. After `pg`, which it reads,
    // and `state`, where it records: on a failure its destructor waits for it before they go.
    std::unique_ptr<PendingDump> target_dump;
    PausedServices paused(stack);
    paused.Pause(RunningServices(stack, in->db_service), "for the restore");
    if (pg) {
      int major = pg->Probe(db::RetiredName(in->pg.db)).major;
      if (major < m.db->major)
        BadInput("backup " + m.timestamp + " holds a postgres " + std::to_string(m.db->major) +
                 " database; this install runs postgres " + std::to_string(major) +
                 ", which cannot read it: restore into a release with postgres " + std::to_string(m.db->major) +
                 " or newer");
      db::RepairInterruptedSwap(*pg);
    }
    InterruptGuard::StopIfInterrupted();
    {
      Step step(rep, "safety copy");
      SafetyCopyInput sc;
      sc.run_dir = run_dir;
      if (!skip_data) sc.data_dir = in->data_dir();
      if (data_mounted) CheckRoomForCopy(in->data_dir(), run_dir);
      if (pg) sc.dump_target = [&pg](const std::string& path) { return pg->DumpToFile(path); };
      sc.dump_later = true;  // the current database changes only at the replay's swap
      SafetyCopyResult kept = SafetyCopy(sc, state);
      target_dump = std::move(kept.pending);
      step.Done(kept.detail);
    }
    InterruptGuard::StopIfInterrupted();  // before restic and pg_restore start
    // data/ is staged on a thread of its own while the database is replayed; the database is
    // swapped in only once data/ is staged, so a failure of either changes nothing.
    std::optional<StagedData> staged;
    std::future<StagedData> staging;
    const std::string stage_work = StageWorkDir(in->data_dir(), run_dir + "/new");
    if (!skip_data) {
      TheLog().info("restoring data/ beside " + in->data_dir() +
                    (data_mounted ? " (a mount point: staged inside it, in " + stage_work + ")" : ""));
      staging = std::async(std::launch::async, [&] {
        return StageData([&](const std::string& work) { source->Data(work, keep.paths); }, in->data_dir(),
                         stage_work, keep.paths);
      });
    }
    Stopwatch data_clock;
    double data_seconds = 0;
    // Waits for data/ to be staged, showing its progress meanwhile (restic 0.14 restores without
    // progress of its own): the bytes allocated under the stage so far (restic sizes a file when
    // it first writes to it), walked at most a fifth of the time, against the backup's data/
    // bytes; its clock is the staging's, which began beside the database's replay.
    std::optional<Progress> data_progress;
    if (staging.valid()) data_progress.emplace("data/", m.bytes, ProgressModeFor(o.quiet, o.json));
    auto wait_data = [&] {
      if (!staging.valid()) return;
      auto f = std::move(staging);
      bool shown = false;
      const std::string stage = stage_work + "/data";
      for (double pause = 0.5; f.wait_for(std::chrono::duration<double>(pause)) != std::future_status::ready;) {
        Stopwatch walk;
        const TreeUsage u = MeasureTree(stage);
        data_progress->Update(u.entries, u.bytes, u.bytes);
        shown = true;
        pause = std::max(0.5, 4 * walk.seconds());
      }
      try {
        staged = f.get();  // throws StageData's error
      } catch (...) {
        if (shown) data_progress->Done();  // the line ends before the error
        throw;
      }
      data_seconds = data_clock.seconds();
      if (shown) {
        data_progress->Update(m.files, m.bytes, m.bytes);
        data_progress->Done();
      }
    };
    try {
      Step step(rep, "restore database");
      if (skip_db) {
        step.Skip(DbSkipReason(m.db.has_value(), o.skip_db, in->db_service));
      } else {
        auto dump = source->Dump();
        Progress progress("database", m.db->dump_bytes, ProgressModeFor(o.quiet, o.json));
        bool progress_done = false;
        db::ReplayOptions ro;
        ro.progress = [&](uint64_t b) { progress.Update(0, b, b); };
        ro.keep_retired = true;
        ro.before_swap = [&] {  // the dump is replayed: its line ends before data/'s begins
          progress.Done();
          progress_done = true;
          InterruptGuard::StopIfInterrupted();
          wait_data();
          if (target_dump) {  // the current database kept before it is replaced
            uint64_t n = 0;
            try {
              n = target_dump->Wait();
            } catch (const Error& e) {
              Fail(std::string("the safety copy's dump of the current database (target-db.dump) failed: ") + e.what());
            }
            target_dump.reset();
            rep.Check("current database kept", true, "target-db.dump (" + HumanBytes(n) + ")");
          }
          finishing.emplace();                  // a signal from now on is only recorded...
          InterruptGuard::StopIfInterrupted();  // ...and one before it stops the restore here
        };
        db::ReplayResult r = db::Replay(*dump, *pg, ro);
        if (!progress_done) progress.Done();
        db_swapped = true;
        rep.database = {{"tables", r.target.tables.size()}, {"sequences", r.target.sequences.size()},
                        {"dump_bytes", r.dump_bytes}, {"roles_created", r.roles_created}};
        rep.Check("database row counts and sequences", true,
                  std::to_string(r.target.tables.size()) + " tables equal to the backup's manifest");
        try {
          db::DropRetired(*pg, true);
        } catch (const Error& e) {
          TheLog().warn(e.what());
        }
        step.Done(std::to_string(r.target.tables.size()) + " tables, " + HumanBytes(r.dump_bytes) + " streamed");
      }
    } catch (...) {
      if (staging.valid()) staging.wait();  // never leave the thread running
      throw;
    }
    {
      Step step(rep, "restore data/");
      if (skip_data) {
        step.Skip(o.skip_data ? "--skip-data" : "a skipped service mounts data/");
      } else {
        wait_data();
        rep.data = {{"files", m.files}, {"bytes", m.bytes}, {"kept", keep.paths}, {"kept_entries", staged->kept},
                    {"seconds", data_seconds}};
        step.Done(std::to_string(m.files) + " files, " + HumanBytes(m.bytes) + " restored and read back in " +
                  Seconds(data_seconds) + " (beside the database)" +
                  (keep.paths.empty() ? "" : "; kept: " + Joined(keep.paths)));
      }
    }
    if (!db_swapped) {  // the database was kept: nothing is replaced yet
      finishing.emplace();
      InterruptGuard::StopIfInterrupted();
    }
    if (staged) {
      Step step(rep, "swap data/");
      try {
        SwapData(*staged);
      } catch (...) {
        // In place, entry by entry: what the undo could not put back is rolled back from the
        // safety copy (the report says how).
        if (staged->in_place) data_swapped = true;
        throw;
      }
      data_swapped = true;
      step.Done(in->data_dir());
    }
    {
      Step step(rep, "restart");
      if (o.standby) {
        paused.Keep();
        if (!in->db_service.empty()) {
          stack.Up({in->db_service});
          stack.WaitUp({in->db_service}, std::chrono::seconds(o.wait_seconds));
        }
        step.Done("standby: " + (in->db_service.empty() ? std::string("no database") : in->db_service + " running") +
                  "; the other services stay stopped until migrate standby promote");
      } else if (o.no_restart) {
        paused.Keep();
        if (db_started) stack.Stop({in->db_service});
        step.Skip("--no-restart: the services stay stopped");
      } else {
        stack.Up();
        std::vector<std::string> services;
        for (const auto& svc : in->project.services) services.push_back(svc.name);
        stack.WaitUp(services, std::chrono::seconds(o.wait_seconds));
        paused.Keep();
        rep.Check("stack up", true, std::to_string(services.size()) + " services of " + in->project_name);
        step.Done("project " + in->project_name);
      }
    }
    rep.result = "ok";
    if (o.standby) {
      StandbyState st;
      st.backup_id = m.id, st.timestamp = m.timestamp, st.version = m.version, st.restored_at = UtcNow();
      WriteStandbyState(dir, st);
      rep.Check("standby", true, "backup " + m.timestamp + " recorded in " + StandbyStatePath(dir));
      RemoveOtherRunDirs(root, run_dir);
      rep.next_steps.push_back("to make this standby the primary: migrate standby promote --to-path " + dir);
    }
    if (!skip_data)
      rep.next_steps.push_back("data/ before the restore is in " + run_dir + "/data.backup (roll back: rsync -a --delete " +
                               run_dir + "/data.backup/ " + in->data_dir() + "/)");
    if (!skip_db) rep.next_steps.push_back("roll back the database: " + DbRollbackCommand(*in, run_dir));
    if (fs::exists(run_dir + "/config.backup"))
      rep.next_steps.push_back("the configuration files it replaced are in " + run_dir + "/config.backup/");
    if (!InterruptGuard::Said().empty())
      TheLog().warn("the restore was " + InterruptGuard::Said() + " once it was replacing the install: it finished");
    rep.Write(run_dir + "/report.json");
    CloseRunDir(root);
    return rep;
  } catch (const Error& e) {
    if (onto_swarm) throw;
    rep.result = "failed";
    // An interrupted restore fails with what stopped it first (the programs it stopped then
    // failed with words of their own).
    const std::string said = InterruptGuard::Said();
    rep.error = said.empty() || std::string(e.what()) == said ? e.what() : said + ": " + e.what();
    if (!run_dir.empty()) {
      if (!data_swapped && !db_swapped) {
        rep.next_steps.push_back("nothing was replaced: data/ and the database are as they were");
      } else if (in) {
        if (data_swapped)
          rep.next_steps.push_back("roll back data/: rsync -a --delete " + run_dir + "/data.backup/ " + in->data_dir() + "/");
        if (db_swapped) rep.next_steps.push_back("roll back the database: " + DbRollbackCommand(*in, run_dir));
      }
      rep.next_steps.push_back("running migrate restore again resumes this restore");
      try {
        rep.Write(run_dir + "/report.json");
      } catch (const Error&) {
      }
    }
    if (!said.empty()) {
      if (!data_swapped && !db_swapped)
        Fail("restore " + said + ": nothing was replaced; data/ and the database are as they were" +
             (!run_dir.empty() && fs::exists(run_dir + "/config.backup")
                  ? " (but its configuration files were restored; the ones they replaced are in " + run_dir +
                        "/config.backup/)"
                  : ""));
      Fail("restore " + rep.error);
    }
    throw;
  }
}

}  // namespace mig
