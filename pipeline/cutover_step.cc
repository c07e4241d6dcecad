#include "pipeline/cutover_step.h"

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "core/timer.h"
#include "pipeline/replay_step.h"
#include "pipeline/restart.h"

namespace mig {

namespace {

constexpr int kMaxRounds = 20;
constexpr size_t kRoundSmallEnough = 2;  // segments: the standby is then seconds behind
constexpr std::chrono::milliseconds kFollowPause{300};  // between two rounds of the follower

}  // namespace

std::unique_ptr<db::WalShipper> StandbyCopy(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  {
    Step step(rep, "copy database (standby)");
    if (o.skip_db) {
      step.Skip("--skip-db");
      return nullptr;
    }
    if (s.db_method.method != db::DbMethod::kPhysical) {
      step.Skip("the database's dump is replayed inside the downtime (" + s.db_method.why + ")");
      return nullptr;
    }
    Progress progress("database", 0, ProgressModeFor(o.quiet, o.json));
    db::CopyClusterOptions co;
    co.as_standby = true;
    co.progress = [&](uint64_t b) { progress.Update(0, b, b); };
    const db::CopyClusterResult r = db::CopyCluster(*s.src_pg, *s.dst_pg, *s.dst_home, co);
    progress.Done();
    rep.database = {{"method", "physical"}, {"why", s.db_method.why}, {"two_phase", true},
                    {"base_backup_bytes", r.bytes}, {"seconds", nlohmann::json::object()}};
    for (const auto& [name, secs] : r.timings) rep.database["seconds"][name] = secs;
    RecordAgentWire(origin, rep);
    step.Done(HumanBytes(r.bytes) + " streamed (gzip); the new release's postgres replays the old one's WAL");
  }
  Step step(rep, "ship WAL");
  auto wal = std::make_unique<db::WalShipper>(*s.src_pg_aside, *s.src_home, *s.dst_pg, *s.dst_home, "migrate_cutover");
  size_t total = 0, n = 0;
  int rounds = 0;
  do {
    n = wal->Round();
    total += n;
  } while (++rounds < kMaxRounds && n > kRoundSmallEnough);
  step.Done(std::to_string(total) + " segments (" + HumanBytes(wal->bytes()) + ") in " + std::to_string(rounds) +
            " rounds; more follow until the old postgres stops");
  wal->Follow(kFollowPause);
  return wal;
}

namespace {

// The oldest transaction id still running or to come (xid8): with none running, the next one the
// old server will hand out.
const char* const kNextXidSql = "SELECT pg_snapshot_xmax(pg_current_snapshot());";

// What the report says when the cutover's slot may be left on the old server.
const char* const kDropSlotHint =
    "drop the cutover's replication slot on the old server before it runs for long (it keeps all WAL): "
    "SELECT pg_drop_replication_slot('migrate_cutover');";

// Ends the client sessions on the old server other than `session`'s and the cutover's own.
void EndOtherSessions(db::Session& session) {
  const std::string ended = session.AskValue(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' "
      "AND pid <> pg_backend_pid() AND application_name IS DISTINCT FROM " + db::QuoteLiteral(kCutoverAppName) + ";");
  if (ended != "0")
    TheLog().warn(ended + " session(s) still connected to the old postgres (not its release's services) were ended "
                  "for the cutover");
}

// Stops the new release's services after a failure past the restart (the old one is stopped too:
// the report says how to start either).
void StopNew(const Sides& s) {
  try {
    s.dst_stack->Stop(NewServices(s));
  } catch (const Error& e) {
    TheLog().warn(std::string("could not stop the new release again: ") + e.what());
  }
}

}  // namespace

void ReplayInDowntime(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  db::PgTarget own = s.src_pg->target();
  own.app_name = kCutoverAppName;
  const db::Postgres old(own);
  std::optional<db::Session> hold;  // after `old`: it holds a reference to it
  {
    Step step(rep, "hold writes");
    hold.emplace(old, s.from.pg.db);
    try {
      EndOtherSessions(*hold);
    } catch (const Error& e) {  // a user that may not end others' sessions: the lock waits for them
      TheLog().warn(std::string("could not end the other sessions on the old database: ") + e.what());
    }
    // No server timeout may end the hold while the replay runs (idle in its transaction meanwhile).
    hold->Ask("SET idle_in_transaction_session_timeout = 0;\n"
              "SELECT set_config('transaction_timeout', '0', false) WHERE current_setting('server_version_num')::int >= 170000;\n"
              "BEGIN;\nSET LOCAL lock_timeout = '30s';\n" + std::string(db::kHoldWritesSql) + " \\gexec");
    step.Done("every table of " + s.from.pg.db + " share-locked on the old server: a write waits, none commits");
  }
  ReplayDatabase(o, origin, s, rep);
  RetiredDrop(o, s).Finish(rep);
  // The hold must have lasted through the replay: a session ended meanwhile let writes commit
  // after the dump's snapshot (the run then fails; a re-run carries it out again).
  try {
    hold->Ask("SELECT 1;");
  } catch (const Error& e) {
    Fail(std::string("the old database's writes were not held through the replay (the holding session ended: ") +
         e.what() + "): writes may have landed after its copy; the new release is not started; run again");
  }
  StopOld(s, true);  // with the writes still held: the waiting ones end with the server
}

PromotedCopy CutOverDatabase(const Sides& s, db::WalShipper& wal, Report& rep) {
  Step step(rep, "cut over database");
  std::vector<std::pair<std::string, double>> times;
  Laps lap(times, "cut over database");
  PromotedCopy copy;
  try {
    db::Session end(*s.src_pg_aside, "postgres");
    EndOtherSessions(end);
  } catch (const Error& e) {  // postgres' own shutdown ends them anyway
    TheLog().warn(std::string("could not end the other sessions on the old database: ") + e.what());
  }
  lap("end_sessions");
  wal.StopFollowing();
  lap("wal_follower_stop");
  StopOld(s, true);
  lap("stop_source");
  const std::string lsn = wal.Final();
  copy.source_next_xid = wal.next_xid();
  lap("last_wal");
  db::PromoteStandby(db::CopyAdmin(*s.src_pg, *s.dst_pg), *s.dst_home, lsn, 300);
  lap("catch_up_and_promote");
  db::ReapplyCredentials(*s.src_pg, *s.dst_pg);
  lap("credentials");
  // The rows as promoted, before a service of the new release writes: a snapshot taken now and
  // every counted table share-locked in it (a TRUNCATE, rewrite or DROP by the new release waits
  // for the count), counted while the services start, the locks let go once counted.
  copy.snapshot = std::make_unique<db::Session>(*s.dst_pg, s.dst_pg->target().db);
  copy.snapshot->Ask("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n" + std::string(db::kLockCountedSql) +
                     " \\gexec");
  db::Session* snap = copy.snapshot.get();
  copy.target = std::async(std::launch::async, [snap] {
    db::DbState st = snap->State();
    snap->Ask("COMMIT;");
    return st;
  });
  lap("snapshot");
  for (const auto& [name, secs] : times) rep.database["cutover_seconds"][name] = secs;
  rep.database["wal_bytes"] = wal.bytes();
  rep.database["wal_rounds"] = wal.rounds();
  rep.database["source_last_checkpoint"] = lsn;
  step.Done("promoted at the old server's last checkpoint " + lsn + " (" + HumanBytes(wal.bytes()) +
            " of WAL shipped in all)");
  return copy;
}

void VerifyCutOver(const Sides& s, PromotedCopy& copy, const std::optional<db::DbState>& source, Report& rep) {
  Step step(rep, "verify database");
  try {
    Stopwatch sw;
    const db::DbState target = copy.target.get();
    copy.snapshot.reset();
    rep.database["verify_seconds"] = sw.seconds();
    rep.database["target"] = {{"tables", target.tables}, {"sequences", target.sequences}};
    if (!source) {
      rep.next_steps.push_back("compare the new database's rows with the old one's: the cutover could not count the "
                               "old one as it stopped (see the warnings)");
      step.Skip("the old database could not be counted as it stopped");
      return;
    }
    rep.database["source"] = {{"tables", source->tables}, {"sequences", source->sequences}};
    const std::vector<std::string> mismatches = db::CompareStates(*source, target, true);
    const std::string counted = std::to_string(source->tables.size()) + " tables, " +
                                std::to_string(source->sequences.size()) + " sequences";
    if (!mismatches.empty()) {
      rep.Check("database row counts and sequences", false, Joined(mismatches));
      Fail("the promoted copy does not match the old database as it stopped (the new release was stopped again): " +
           Joined(mismatches, "; "));
    }
    rep.Check("database row counts and sequences", true,
              counted + " equal to the old database's as it stopped (every transaction it committed is in the copy)");
    step.Done(counted + " equal; the copy counted in a snapshot taken before the new release started");
  } catch (const Error&) {
    StopNew(s);
    throw;
  } catch (const std::exception& e) {  // a count whose output was not understood
    StopNew(s);
    Fail(std::string("counting the promoted copy failed (the new release was stopped again): ") + e.what());
  }
}

std::optional<db::DbState> ReleaseSourceWal(const Options& o, const Sides& s, const std::string& next_xid,
                                            Report& rep) {
  Step step(rep, "release the old server's WAL");
  if (o.skip_db || !s.src_pg) {
    step.Skip("--skip-db");
    return std::nullopt;
  }
  std::optional<db::DbState> counted;
  try {
    s.src_stack->Up({s.from.db_service});
  } catch (const Error& e) {
    TheLog().warn(std::string("could not start the old database again to count it and drop the cutover's slot: ") +
                  e.what());
    rep.next_steps.push_back(kDropSlotHint);
    step.Failed(e.what());
    return counted;
  }
  std::string problem;  // each part's failure, a warning each; the next parts go on
  auto trouble = [&problem](const std::string& what) {
    TheLog().warn(what);
    problem += (problem.empty() ? "" : "; ") + what;
  };
  try {
    s.src_pg->WaitReady(120, "");
  } catch (const Error& e) {
    trouble(std::string("the old database did not answer: ") + e.what());
  }
  if (!next_xid.empty()) try {
    // Its release's services are stopped. The count runs in one snapshot whose first statement
    // reads the next transaction id: the one it had as it stopped, and the snapshot holds exactly
    // the rows it stopped with, whatever wrote since (autovacuum's ANALYZE, a client come back).
    db::Session count(*s.src_pg, s.from.pg.db);
    const std::string xmax = count.AskValue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n" +
                                            std::string(kNextXidSql));
    db::DbState st = count.State();
    count.Ask("COMMIT;");
    if (xmax == next_xid) counted = std::move(st);
    else TheLog().warn("the old database ran a transaction between its cutover and this count (next transaction id " +
                       xmax + ", " + next_xid + " as it stopped): its rows are not compared with the copy's");
  } catch (const Error& e) {
    trouble(std::string("could not count the old database: ") + e.what());
  }
  try {
    db::DropSlot(*s.src_pg, "migrate_cutover");
  } catch (const Error& e) {
    trouble(std::string("could not drop the cutover's replication slot: ") + e.what());
    rep.next_steps.push_back(kDropSlotHint);
  }
  try {
    StopOld(s, true);
  } catch (const Error& e) {
    trouble(std::string("could not stop the old database again: ") + e.what());
  }
  if (problem.empty()) step.Done("the old database counted; replication slot migrate_cutover dropped; its postgres stopped again");
  else step.Failed(problem);
  return counted;
}

}  // namespace mig
