#include "pipeline/replay_step.h"

#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "pipeline/run_dir.h"

namespace mig {

namespace fs = std::filesystem;

namespace {

nlohmann::json StateJson(const db::DbState& st) {
  nlohmann::json j = {{"tables", nlohmann::json::object()}, {"sequences", nlohmann::json::object()}};
  for (const auto& [k, v] : st.tables) j["tables"][k] = v;
  for (const auto& [k, v] : st.sequences) j["sequences"][k] = v;
  return j;
}

bool Physical(const Sides& s) { return s.db_method.method == db::DbMethod::kPhysical && s.dst_home; }

// The physical path (docs/physical-db.md): the step "copy database".
void CopyDatabase(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  Step step(rep, "copy database");
  Progress progress("database", 0, ProgressModeFor(o.quiet, o.json));  // a base backup's size is not known ahead
  db::CopyClusterOptions co;
  co.progress = [&](uint64_t b) { progress.Update(0, b, b); };
  // Kept until the copy's credentials are re-applied: a run stopped between the swap and them
  // finishes them in the next one's preflight (ResumeInterruptedCopy).
  const std::string marker = CopyMarkerFile(MigrationRoot(o.temp_dir, s.to.dir));
  co.before_swap = [&] { WriteFileAtomic(marker, db::CopyMarkerJson({s.from.pg.user, s.from.pg.db}), 0600); };
  if (s.src_home && !s.src_home->here.empty()) co.source_home = &*s.src_home;
  co.session_ahead = s.src_session.get();
  const db::CopyClusterResult r = db::CopyCluster(*s.src_pg, *s.dst_pg, *s.dst_home, co);
  std::error_code ec;
  fs::remove(marker, ec);
  progress.Done();
  rep.database = {{"method", "physical"}, {"why", s.db_method.why}, {"source", StateJson(r.source)},
                  {"compression", r.compression}, {"staged_on_host", r.on_host},
                  {"target", StateJson(r.target)}, {"base_backup_bytes", r.bytes},
                  {"source_changed", r.source_changed}, {"seconds", nlohmann::json::object()}};
  for (const auto& [name, secs] : r.timings) rep.database["seconds"][name] = secs;
  RecordAgentWire(origin, rep);
  const std::string counted = std::to_string(r.source.tables.size()) + " tables, " +
                              std::to_string(r.source.sequences.size()) + " sequences";
  if (!r.mismatches.empty() && !r.source_changed) {
    std::string list;
    for (const auto& m : r.mismatches) list += "\n  " + m;
    rep.Check("database row counts and sequences", false, Joined(r.mismatches));
    Fail("the copied cluster does not match the source, which did not change meanwhile:" + list);
  }
  rep.Check("database row counts and sequences", true,
            r.mismatches.empty() ? counted + " equal to the source (every file's " +
                                       std::string(r.compression == "none" ? "size" : "checksum") +
                                       " checked against the backup's manifest)"
                                 : counted + ": the source was written while it was copied, so its counts moved on; "
                                             "the copy is the source as its base backup ended (--stop-old stops the "
                                             "old writers first for an exact check)");
  if (r.compression == "none")
    step.Done(counted + ", " + HumanBytes(r.bytes) + " written as files by the source's pg_basebackup, moved and swapped in "
              "on this host");
  else
    step.Done(counted + ", " + HumanBytes(r.bytes) + " streamed (" + r.compression + "), " +
              (r.on_host ? "unpacked and swapped in on this host" : "unpacked and swapped in inside the container"));
}

// The logical replay: the source's snapshot (in `started.source` when one was started ahead)
// dumped into the target's staging database, verified, swapped in; the target's previous
// database kept, renamed, for RetiredDrop.
db::ReplayResult ReplayLogical(const db::Postgres& source, const Sides& s, db::ReplayOptions ro, ReplaySessions started) {
  ro.keep_retired = true;
  ro.admin = std::move(started.target);
  db::LiveDump dump(source, "the source", std::move(started.source));
  return db::Replay(dump, *s.dst_pg, ro);
}

void RecordLogical(const Sides& s, const db::ReplayResult& r, Report& rep) {
  rep.database = {{"method", "logical"}, {"why", s.db_method.why}, {"source", StateJson(r.source)}, {"target", StateJson(r.target)},
                  {"dump_bytes", r.dump_bytes}, {"roles_created", r.roles_created},
                  {"seconds", nlohmann::json::object()}};
  for (const auto& [name, secs] : r.timings) rep.database["seconds"][name] = secs;
  rep.Check("database row counts and sequences", true,
            std::to_string(r.source.tables.size()) + " tables, " + std::to_string(r.source.sequences.size()) +
                " sequences equal to the source");
}

std::string LogicalDetail(const db::ReplayResult& r) {
  return std::to_string(r.source.tables.size()) + " tables, " + HumanBytes(r.dump_bytes) + " streamed";
}

}  // namespace

void RecordAgentWire(const Origin& origin, Report& rep) {
  nlohmann::json wire = origin.Wire();
  if (!wire.is_null())
    rep.database["wire"] = {{"via", "migrate-agent"}, {"agent_bytes_received", wire["bytes_received"]}};
}

std::string TargetDbCopyName(const Sides& s) { return Physical(s) ? "target-cluster.tar.gz" : "target-db.dump"; }

std::string DbRollbackCommand(const Sides& s, const std::string& run_dir) {
  if (Physical(s)) return db::RestoreClusterCommand(*s.dst_home, run_dir + "/" + TargetDbCopyName(s));
  return DbRollbackCommand(s.to, run_dir);
}

ReplaySessions StartReplaySessions(const Options& o, Sides& s) {
  if (Physical(s)) return {};  // the copy takes the preflight's session (CopyDatabase)
  std::unique_ptr<db::OpeningSession> source = std::move(s.src_session);  // the preflight's, if any
  if (o.skip_db || o.two_phase || !s.src_pg || !s.dst_pg) return {};
  if (!source) source = std::make_unique<db::OpeningSession>(*s.src_pg, s.src_pg->target().db);
  return {std::move(source), std::make_shared<db::OpeningSession>(*s.dst_pg, "postgres")};
}

void ReplayDatabase(const Options& o, Origin& origin, const Sides& s, Report& rep,
                    const std::function<void()>& before_change, ReplaySessions started) {
  if (o.skip_db) {
    Step step(rep, "replay database");
    step.Skip("--skip-db");
    return;
  }
  if (Physical(s)) {
    if (before_change) before_change();
    CopyDatabase(o, origin, s, rep);
    return;
  }
  Step step(rep, "replay database");
  Progress progress("database", 0, ProgressModeFor(o.quiet, o.json));  // a dump's size is not known ahead
  db::ReplayOptions ro;
  ro.progress = [&](uint64_t b) { progress.Update(0, b, b); };
  ro.before_swap = before_change;
  db::ReplayResult r = ReplayLogical(*s.src_pg, s, std::move(ro), std::move(started));
  progress.Done();
  RecordLogical(s, r, rep);
  RecordAgentWire(origin, rep);  // the dump came through the agent (RUN)
  step.Done(LogicalDetail(r));
}

bool ReplayBeside::Fits(const Options& o, const Sides& s) {
  return !o.skip_db && !o.skip_data && !o.two_phase && s.src_pg && s.dst_pg && !Physical(s) && s.source_data &&
         s.legacy.empty();
}

namespace {

db::PgTarget OnHost(db::PgTarget t, const Host& host, const Host& dump_host) {
  t.host = &host;
  t.dump_host = &dump_host;
  return t;
}

// `after` once `turned` is true (and `used` then set), else the inner host: the agent's RUN for
// the source's dump once the merge let go of the agent's session.
class TurnsWhen : public HostInFront {
 public:
  TurnsWhen(const Host& before, const Host& after, const std::atomic<bool>& turned, std::atomic<bool>& used)
      : HostInFront(before), after_(after), turned_(turned), used_(used) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    return Pick().Run(argv, input, timeout);
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    return Pick().Start(argv, pipes);
  }

 private:
  const Host& Pick() const {
    if (!turned_) return inner_;
    used_ = true;
    return after_;
  }
  const Host& after_;
  const std::atomic<bool>& turned_;
  std::atomic<bool>& used_;
};

}  // namespace

ReplayBeside::ReplayBeside(const Options& o, Origin& origin, const Sides& s, std::function<void()> before_swap,
                           ReplaySessions started)
    : o_(o),
      s_(s),
      before_swap_(std::move(before_swap)),
      origin_(origin),
      dump_host_(std::make_unique<TurnsWhen>(origin.ConcurrentHost(), origin.DumpHost(), merged_flag_, dumped_after_)),
      source_(OnHost(s.src_pg->target(), origin.ConcurrentHost(), *dump_host_)),
      merged_seen_(merged_.get_future().share()),
      progress_("database", 0, ProgressModeFor(o.quiet, o.json)) {
  TheLog().info("replaying the database beside the data/ merge");
  replay_ = std::async(std::launch::async, [this, started = std::move(started)]() mutable {
    db::ReplayOptions ro;
    ro.progress = [this](uint64_t b) {
      bytes_ = b;
      if (stop_) Fail("stopped: the data/ merge failed");
    };
    ro.keep_going = [this] {
      if (stop_) Fail("stopped: the data/ merge failed");
    };
    ro.before_swap = [this] {
      Stopwatch wait;
      merged_seen_.get();  // throws when the merge failed: the target stays untouched
      if (stop_) Fail("stopped: the run failed after the data/ merge");  // a step before Finish() threw
      if (before_swap_) before_swap_();
      waited_ = wait.seconds();
    };
    return ReplayLogical(source_, s_, std::move(ro), std::move(started));
  });
}

ReplayBeside::~ReplayBeside() {
  if (!replay_.valid()) return;  // Finish() took its end
  stop_ = true;  // the merge, or a step after it, failed: the replay never swaps
  if (!merge_told_) merged_.set_exception(std::make_exception_ptr(Error(ErrorKind::kFailed, "stopped: the data/ merge failed")));
  if (replay_.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
    TheLog().info("waiting for the database replay beside the merge to stop (its phase under way ends, then its "
                  "staging database is dropped; the target database is untouched)");
  replay_.wait();  // its failure is the merge's consequence: the merge's error is the one reported
}

void ReplayBeside::MergeDone() {
  merge_told_ = true;
  merged_flag_ = true;
  merged_.set_value();
}

void ReplayBeside::Finish(Report& rep) {
  TheLog().info("== replay database");  // its header where the report lists it: after the merge
  while (replay_.wait_for(std::chrono::milliseconds(500)) != std::future_status::ready)
    progress_.Update(0, bytes_, bytes_);
  progress_.Update(0, bytes_, bytes_);
  progress_.Done();
  StepRecord step{"replay database", "failed", 0, ""};
  try {
    const db::ReplayResult r = replay_.get();
    step.seconds = clock_.seconds() - waited_;
    RecordLogical(s_, r, rep);
    rep.database["beside_merge"] = true;
    if (!origin_.Where().empty()) {
      if (dumped_after_)  // the merge had ended: the dump came through the agent (RUN)
        RecordAgentWire(origin_, rep);
      else  // the merge held the agent's session: the dump came on an exec channel
        rep.database["wire"] = {{"via", "ssh"}};
    }
    step.status = "ok";
    step.detail = LogicalDetail(r) + " (beside the data/ merge; the swap waited " + Seconds(waited_) + ")";
  } catch (const std::exception& e) {
    step.seconds = clock_.seconds();
    step.detail = e.what();
    rep.steps.push_back(step);
    throw;
  }
  rep.steps.push_back(step);
}

RetiredDrop::RetiredDrop(const Options& o, const Sides& s) {
  if (o.skip_db || !s.dst_pg || Physical(s)) return;
  started_ = std::async(std::launch::async, [&pg = *s.dst_pg]() -> std::string {
    try {
      db::DropRetired(pg, true);
      return "";
    } catch (const Error& e) {
      return e.what();
    }
  });
}

void RetiredDrop::Finish(Report& rep) {
  if (!started_.valid()) return;
  const std::string error = started_.get();
  if (error.empty()) return;
  TheLog().warn(error);
  rep.Check("previous database dropped", false, error);
}

std::string DbRollbackCommand(const Install& to, const std::string& run_dir) {
  const std::string& u = to.pg.user;
  return "docker exec -i " + to.pg.container + " sh -c 'dropdb -U " + u + " --force " + to.pg.db +
         " && pg_restore -U " + u + " --create -d postgres' < " + run_dir + "/target-db.dump";
}

}  // namespace mig
