// RunMigration: the steps composed, in order (docs/architecture.md). Each step is a function
// of its own file taking plain values; this file only sequences them and keeps the report.
#include "pipeline/pipeline.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>

#include "core/error.h"
#include "core/text.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/timer.h"
#include "core/progress.h"
#include "install/install.h"
#include "pipeline/confirm.h"
#include "pipeline/cutover_step.h"
#include "pipeline/dns_hook.h"
#include "pipeline/downtime.h"
#include "pipeline/lock.h"
#include "pipeline/legacy_step.h"
#include "pipeline/merge_step.h"
#include "pipeline/preflight.h"
#include "pipeline/replay_step.h"
#include "pipeline/restart.h"
#include "pipeline/run_dir.h"
#include "pipeline/run_state.h"
#include "pipeline/safety_copy.h"

namespace fs = std::filesystem;

namespace mig {

namespace {


// Asks once on a terminal; --yes or no terminal: go on.
void Confirm(const Options& o, const Report& rep, const Sides& s) {
  ConfirmOrCancel(o.yes, "Migrate " + rep.from + " into " + s.to.dir + " (its data/ is merged" +
                             (o.skip_db ? "" : ", its database " + s.to.pg.db + " replaced") + ")");
}

// The dry run: the plan of each part, nothing changed.
void DryRun(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  if (!o.skip_data) PlanData(o, origin, s, rep);
  if (!o.skip_db) {
    Step step(rep, "plan database");
    std::string d = "replace " + s.to.pg.db + " (" + s.to.project_name + ") with " + s.from.pg.db + " (" +
                    s.from.project_name + ")";
    if (s.src_pg) d += ", source " + HumanBytes(s.src_db_bytes);
    if (!s.db_method.why.empty()) d += "; " + db::DbMethodName(s.db_method.method) + ": " + s.db_method.why;
    if (!o.quiet && !o.json) std::cout << "database: " << d << "\n";
    step.Done(d);
  }
  if (o.two_phase) EstimateDowntimeStep(o, s, rep);
  rep.result = "ok";
}

// A legacy source's roll back (docs/legacy.md): what the new release had at the root paths, and
// its custom.env before the .env edits were moved in.
void AddLegacyHints(const Sides& s, const std::string& run_dir, Report& rep) {
  if (fs::exists(run_dir + "/root.backup"))
    rep.next_steps.push_back("roll back the legacy root paths (" + Joined(s.from.legacy_paths) + "): what the new "
                             "release had there is in " + run_dir + "/root.backup/ (a path not there was not there)");
  if (fs::exists(run_dir + "/custom.env.before"))
    rep.next_steps.push_back("roll back custom.env: cp " + run_dir + "/custom.env.before " + s.to.dir + "/custom.env");
  if (fs::exists(run_dir + "/custom.env.absent"))
    rep.next_steps.push_back("roll back custom.env: rm " + s.to.dir + "/custom.env (there was none)");
}

// What the report says to do after a failure: where the safety copy is, how to resume.
void AddRollbackHints(const Options& o, const Sides* s, const std::string& run_dir, const RunState& st, Report& rep) {
  if (s) AddLegacyHints(*s, run_dir, rep);
  if (!o.skip_data && st.backup_done)
    rep.next_steps.push_back("data/ before the merge is in " + run_dir + "/data.backup (rsync -a --delete it back)");
  if (!o.skip_db && st.dump_done && s && s->dst_pg)
    rep.next_steps.push_back("the database before the migration: " + DbRollbackCommand(*s, run_dir));
  rep.next_steps.push_back("running " + rep.command + " again resumes this migration");
}

// What the report says to do after a success: test, retire the old release, roll back.
void AddNextSteps(const Options& o, Origin& origin, const Sides& s, const std::string& run_dir, Report& rep) {
  rep.next_steps.push_back("test the new release (project " + s.to.project_name + ", folder " + s.to.dir + ")");
  AddLegacyHints(s, run_dir, rep);
  if (!o.stop_old && !o.two_phase)
    rep.next_steps.push_back("when happy, stop the old one" +
                             (origin.Where().empty() ? std::string() : " (on " + origin.Where() + ")") + ": " +
                             CommandLine(s.src_stack->Command({"down"})));
  if (!o.skip_data)
    rep.next_steps.push_back("roll back data/: rsync -a --delete " + run_dir + "/data.backup/ " + s.to.data_dir() + "/");
  if (!o.skip_db && s.dst_pg) rep.next_steps.push_back("roll back the database: " + DbRollbackCommand(s, run_dir));
}

// The origin's rows not yet in the report (the agent's appears once it was started).
void AddOriginChecks(const Origin& origin, Report& rep) {
  for (const auto& [name, detail] : origin.Checks()) {
    bool there = false;
    for (const auto& c : rep.checks) there = there || c["name"] == name;
    if (!there) rep.Check(name, true, detail);
  }
}

// The connection to the old install (SSH and host key for a remote one), as the step "connect".
std::unique_ptr<Origin> Connect(Options& o, Report& rep, std::unique_ptr<Origin> origin) {
  Step step(rep, "connect");
  if (!origin) {
    OriginSpec spec;
    spec.from = o.from;
    spec.ssh = o.ssh;
    spec.sudo = o.sudo;
    origin = OpenOrigin(spec);
  }
  AddOriginChecks(*origin, rep);
  if (!origin->Where().empty() && !o.dns_hook.command.empty() && o.dns_hook.old_ip.empty()) {
    o.dns_hook.old_ip = origin->PeerIPv4();  // OLD_IP defaults to the old server's address
    if (o.dns_hook.old_ip.empty()) BadUsage("the old server was reached over IPv6: give --dns-hook's --old-ip IP");
  }
  step.Done(origin->Where().empty() ? "this server" : origin->Where());
  return origin;
}

// Whether a service of the old release other than its database runs (it serves again).
bool OldServicesRun(const Sides& s) {
  for (const auto& c : s.src_stack->Containers())
    if (c.running() && c.service != s.from.db_service) return true;
  return false;
}

// The downtime of a two-phase cutover, from the old services' stop (docs/cutover.md). Recorded in
// state.json as it begins, so that a run resumed after a crash in phase 2 (they stay stopped)
// counts it from the first attempt's; a steady clock when it began in this attempt.
class DowntimeClock {
 public:
  DowntimeClock(const Sides& s, const std::string& run_dir, RunState& state) {
    if (!state.downtime_began.empty() && OldServicesRun(s)) {  // served again since: that downtime ended
      TheLog().info("the old release runs again since the downtime recorded at " + state.downtime_began +
                    ": this attempt's downtime is counted afresh");
      state.downtime_began.clear();
    }
    resumed_ = !state.downtime_began.empty();
    if (!resumed_) {
      state.downtime_began = UtcNow();
      state.downtime_began_epoch = NowEpoch();
      state.Save(run_dir + "/state.json");
    }
    began_ = state.downtime_began;
    began_epoch_ = state.downtime_began_epoch;
  }
  // Records the downtime as ended now: data.downtime and the check "downtime".
  void End(Report& rep) const {
    const double secs = resumed_ ? std::max(0.0, NowEpoch() - began_epoch_) : here_.seconds();
    rep.data["downtime"] = {{"seconds", secs}, {"from", began_}, {"to", UtcNow()},
                            {"span", "the old release's services stopped -> the new release's running"},
                            {"resumed", resumed_}};
    char shown[32];
    std::snprintf(shown, sizeof shown, "%.1f s", secs);
    rep.Check("downtime", true, std::string(shown) + " from the old release's services stopping" +
                                    (resumed_ ? " (in an earlier attempt of this run, " + began_ + ")" : "") +
                                    " to the new release's running");
  }

 private:
  static double NowEpoch() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  bool resumed_ = false;
  std::string began_;
  double began_epoch_ = 0;
  Stopwatch here_;
};

const char* const kSlotHint =
    ", then drop its replication slot if it is still there: SELECT pg_drop_replication_slot(slot_name) "
    "FROM pg_replication_slots WHERE slot_name = 'migrate_cutover';";

// A run resumed after its cutover was done (the new database is the old one's; the new release
// may have written since): never copied again; the new release started, the old server's slot
// dropped (the physical path), the old postgres stopped again.
void FinishResumedCutover(const Options& o, Sides& s, const std::string& run_dir, RunState& state, Report& rep) {
  if (OldServicesRun(s))
    BadInput("the old release serves again since this run's cutover (" + s.from.project_name + "): what it took "
             "since is not in the new database, and finishing would not copy it. Stop its services to finish the "
             "cutover, or move " + run_dir + " away to migrate again");
  TheLog().info("the cutover was done by an earlier attempt of this run: the database is not copied again");
  for (const char* name : {"merge data/", "stop old services", "merge data/ (final delta)", "cut over database"}) {
    Step step(rep, name);
    step.Skip("done by an earlier attempt of this run");
  }
  DowntimeClock clock(s, run_dir, state);
  Restart(o, s, rep);
  clock.End(rep);
  if (s.db_method.method == db::DbMethod::kPhysical && !o.skip_db) {
    ReleaseSourceWal(o, s, "", rep);  // its slot; no count: the copy was promoted in the earlier attempt
    Step step(rep, "verify database");
    step.Skip("the copy was promoted by an earlier attempt of this run, before its count");
    rep.next_steps.push_back("compare the new database's rows with the old one's: this resumed run did not count them");
  } else if (s.started_source_db) {
    StopOld(s, true);
  }
}

// The two-phase cutover (docs/cutover.md): everything copied while the old release serves, then
// the downtime (recorded in the report): its services stopped, the final data/ delta, its database
// cut over, the new release started. A run resumed after the cutover only finishes.
void RunTwoPhase(const Options& o, Origin& origin, Sides& s, const std::string& run_dir, RunState& state, Report& rep) {
  if (state.cutover_done) return FinishResumedCutover(o, s, run_dir, state, rep);
  MergeData(o, origin, s, rep);
  if (!s.legacy.empty()) {  // docs/legacy.md
    CarryRootPaths(o, origin, s, run_dir, rep);
    MoveEnvStep(s, run_dir, rep);
  }
  if (s.src_pg && s.db_method.method == db::DbMethod::kPhysical) {
    db::PgTarget aside = s.src_pg->target();
    aside.host = &origin.ConcurrentHost();
    aside.dump_host = nullptr;
    aside.app_name = kCutoverAppName;
    s.src_pg_aside.emplace(aside);
  }
  std::unique_ptr<db::WalShipper> wal = StandbyCopy(o, origin, s, rep);
  if (wal) {  // the old postgres's shutdown checkpoint then has little left to write in the downtime
    try {
      s.src_pg->Query("CHECKPOINT", "postgres");
    } catch (const Error& e) {
      TheLog().warn(std::string("no checkpoint on the old server before the cutover (") + e.what() + ")");
    }
  }
  DowntimeClock clock(s, run_dir, state);
  try {
    {
      Step step(rep, "stop old services");
      StopOld(s, false);
      step.Done("project " + s.from.project_name + ", its database last");
    }
    MergeData(o, origin, s, rep, true);
    std::optional<PromotedCopy> copy;
    if (wal) copy.emplace(CutOverDatabase(s, *wal, rep));
    else if (!o.skip_db && s.src_pg) ReplayInDowntime(o, origin, s, rep);
    else StopOld(s, true);
    state.cutover_done = true;  // from here a resumed run never copies the database again
    state.Save(run_dir + "/state.json");
    Restart(o, s, rep);
    clock.End(rep);
    if (copy) {  // the old database counted once it started alone again, the copy in its snapshot
      const std::optional<db::DbState> source = ReleaseSourceWal(o, s, copy->source_next_xid, rep);
      VerifyCutOver(s, *copy, source, rep);
    }
  } catch (const Error&) {
    rep.next_steps.push_back(state.cutover_done
                                 ? "the old release was stopped for the cutover, and the new database is its copy: "
                                   "running this command again finishes the cutover without copying again"
                                 : "the old release was stopped for the cutover; to serve from it again: " +
                                       CommandLine(s.src_stack->Command({"up", "-d"})) + (wal ? kSlotHint : ""));
    throw;
  }
}

}  // namespace

Report RunMigration(const Options& opts, std::unique_ptr<Origin> opened) {
  Options o = opts;
  Report rep;
  rep.command = o.from.empty() ? "migrate-local" : "migrate";
  rep.started_at = UtcNow();
  rep.dry_run = o.dry_run;
  std::string run_dir;
  RunState state;
  // The origin outlives the sides: a session the preflight started over the old server's SSH
  // connection (Sides::src_session) is closed before that connection when the run fails.
  std::unique_ptr<Origin> origin;
  std::optional<Sides> sides;
  // The locks outlive the failure path below, which may still wait for the target's dump.
  std::optional<TargetLock> lock;
  std::optional<JobLock> job;
  // The target database's dump while it is taken beside the merge (the replay waits for it).
  std::unique_ptr<PendingDump> target_dump;
  try {
    origin = Connect(o, rep, std::move(opened));
    auto env = ProcessEnv();
    const std::string db = o.skip_db ? "" : o.db_service;
    Install from = origin->LoadInstall(o.from_path, db, o.from_project, env);
    Install to = LoadInstall(o.to_path, "target", db, o.to_project, env);
    if (origin->Where().empty()) CheckDistinct(from, to);  // two folders of one server
    rep.from = origin->Show(from.dir);
    rep.to = to.dir;
    const std::string root = MigrationRoot(o.temp_dir, to.dir);
    if (!o.dry_run) {
      std::error_code ec;
      fs::create_directories(root, ec);
      if (ec) Fail("cannot create " + root + ": " + ec.message() + " (give another folder with --temp-dir)");
      lock.emplace(root);
      job.emplace(JobLockPath(to.dir), "another job (backup, restore or migration) is running on " + to.dir);
      job->Describe("migration into " + to.dir);
    }
    Preflight(o, *origin, std::move(from), std::move(to), rep, sides.emplace());
    AddOriginChecks(*origin, rep);
    Sides& s = *sides;
    if (o.dry_run) {
      DryRun(o, *origin, s, rep);
      DnsHookStep(rep, o.dns_hook, true);
      origin->Close();
      return rep;
    }
    ReplaySessions replay_sessions = StartReplaySessions(o, s);
    Confirm(o, rep, s);
    RunDir rd = OpenRunDir(root);
    run_dir = rd.path;
    rep.resumed = rd.resumed;
    rep.migration_dir = run_dir;
    TheLog().open_file(run_dir + "/migration.log");
    TheLog().info(std::string(rd.resumed ? "resuming" : "starting") + " migration " +
                  fs::path(run_dir).filename().string() + ": " + s.from.dir + " -> " + s.to.dir);
    {
      Step step(rep, "safety copy");
      SafetyCopyInput in;
      in.run_dir = run_dir;
      if (!o.skip_data) in.data_dir = s.to.data_dir();
      if (!o.skip_db) {
        in.dump_name = TargetDbCopyName(s);
        if (s.dst_home)  // the physical path replaces the whole cluster: all of it is kept
          in.dump_target = [&s](const std::string& path) { return db::BaseBackupToFile(*s.dst_pg, path); };
        else
          in.dump_target = [&s](const std::string& path) { return s.dst_pg->DumpToFile(path); };
        // The logical replay changes the target database only at its swap: the dump of it can
        // be taken while data/ is merged and the staging database filled (and is waited for
        // there). The physical path and a two-phase cutover wait for it here.
        in.dump_later = !s.dst_home && !o.two_phase;
      }
      SafetyCopyResult kept = SafetyCopy(in, state);
      target_dump = std::move(kept.pending);
      step.Done(kept.detail);
    }
    const auto wait_for_target_dump = [&] {
      if (!target_dump) return;
      const uint64_t n = target_dump->Wait();
      target_dump.reset();
      rep.Check("target database kept", true, TargetDbCopyName(s) + " (" + HumanBytes(n) + ")");
    };
    if (o.two_phase) {
      RunTwoPhase(o, *origin, s, run_dir, state, rep);
    } else {
      if (o.stop_old) StopOld(s, false);
      // The replay fills and verifies its staging database while data/ is merged; it swaps once
      // the merge ended well and the target's safety dump is whole (docs/pipeline.md).
      std::optional<ReplayBeside> beside;
      if (ReplayBeside::Fits(o, s))
        beside.emplace(o, *origin, s, [&target_dump] { if (target_dump) target_dump->Wait(); },
                       std::move(replay_sessions));
      MergeData(o, *origin, s, rep);
      if (beside) beside->MergeDone();
      if (!s.legacy.empty()) {  // docs/legacy.md
        CarryRootPaths(o, *origin, s, run_dir, rep);
        MoveEnvStep(s, run_dir, rep);
      }
      // Nothing changes the release's files (compose file, env files) after this point.
      ExpectedConfig expected = AskExpectedConfig(o, s);
      if (beside) beside->Finish(rep);
      else ReplayDatabase(o, *origin, s, rep, wait_for_target_dump, std::move(replay_sessions));
      beside.reset();
      wait_for_target_dump();  // recorded even where the replay did not ask for it before a change
      RetiredDrop dropping(o, s);  // beside what follows
      try {
        if (o.stop_old) StopOld(s, true);
        else if (s.started_source_db) s.src_stack->Stop({s.from.db_service});
        Restart(o, s, rep, &expected);
      } catch (...) {
        dropping.Finish(rep);  // its row in the report of the failed run too
        throw;
      }
      dropping.Finish(rep);
    }
    rep.result = "ok";
    DnsHookStep(rep, o.dns_hook, false);  // a failure is recorded; the migration stands
    AddNextSteps(o, *origin, s, run_dir, rep);
    rep.Write(run_dir + "/report.json");
    CloseRunDir(root);
    origin->Close();
    return rep;
  } catch (const Error& e) {
    rep.result = "failed";
    rep.error = e.what();
    if (target_dump) {  // the run failed before the replay waited for it: kept all the same
      try {
        target_dump->Wait();
      } catch (const std::exception& d) {
        if (std::string(d.what()) != e.what())  // not the failure being reported
          TheLog().warn(std::string("the target database's safety dump failed too: ") + d.what());
      }
      target_dump.reset();
    }
    if (!run_dir.empty()) {
      AddRollbackHints(o, sides ? &*sides : nullptr, run_dir, state, rep);
      try {
        rep.Write(run_dir + "/report.json");
      } catch (const Error&) {
      }
    }
    throw;
  }
}

}  // namespace mig
