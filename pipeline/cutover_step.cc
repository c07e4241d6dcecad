#include "pipeline/cutover_step.h"

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "core/timer.h"
#include "pipeline/restart.h"

namespace mig {

namespace {

constexpr int kMaxRounds = 20;
constexpr size_t kRoundSmallEnough = 2;  // segments: the standby is then seconds behind

}  // namespace

std::unique_ptr<db::WalShipper> StandbyCopy(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  {
    Step step(rep, "copy database (standby)");
    if (o.skip_db) {
      step.Skip("--skip-db");
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
    nlohmann::json wire = origin.Wire();
    if (!wire.is_null())
      rep.database["wire"] = {{"via", "migrate-agent"}, {"agent_bytes_received", wire["bytes_received"]}};
    step.Done(HumanBytes(r.bytes) + " streamed (gzip); the new release's postgres replays the old one's WAL");
  }
  Step step(rep, "ship WAL");
  auto wal = std::make_unique<db::WalShipper>(*s.src_pg, *s.src_home, *s.dst_pg, *s.dst_home, "migrate_cutover");
  size_t total = 0, n = 0;
  int rounds = 0;
  do {
    n = wal->Round();
    total += n;
  } while (++rounds < kMaxRounds && n > kRoundSmallEnough);
  step.Done(std::to_string(total) + " segments (" + HumanBytes(wal->bytes()) + ") in " + std::to_string(rounds) +
            " rounds");
  return wal;
}

void CutOverDatabase(const Sides& s, db::WalShipper& wal, Report& rep) {
  Step step(rep, "cut over database");
  Stopwatch sw;
  auto lap = [&](const char* name) {
    rep.database["cutover_seconds"][name] = sw.seconds();
    sw.restart();
  };
  db::DbState source;
  {
    // Its services are stopped; a client still connected from elsewhere is ended, so that the
    // count is what the copy must hold (a write after it would land in the WAL, not the count).
    db::Session count(*s.src_pg, s.from.pg.db);
    const std::string ended = count.AskValue(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid();");
    if (ended != "0")
      TheLog().warn(ended + " session(s) still connected to the old postgres (not its release's services) were ended "
                    "for the cutover");
    source = count.State();
  }
  lap("count_source");
  StopOld(s, true);
  lap("stop_source");
  const std::string lsn = wal.Final();
  lap("last_wal");
  db::PromoteStandby(db::CopyAdmin(*s.src_pg, *s.dst_pg), *s.dst_home, lsn, 300);
  lap("catch_up_and_promote");
  db::CopyClusterResult r;
  db::FinishCopy(*s.src_pg, *s.dst_pg, source, r);
  lap("credentials_and_count");
  rep.database["source"] = {{"tables", r.source.tables}, {"sequences", r.source.sequences}};
  rep.database["target"] = {{"tables", r.target.tables}, {"sequences", r.target.sequences}};
  rep.database["wal_bytes"] = wal.bytes();
  rep.database["source_last_checkpoint"] = lsn;
  const std::string counted = std::to_string(r.source.tables.size()) + " tables, " +
                              std::to_string(r.source.sequences.size()) + " sequences";
  if (!r.mismatches.empty()) {
    rep.Check("database row counts and sequences", false, Joined(r.mismatches));
    Fail("the promoted copy does not match the stopped source: " + Joined(r.mismatches, "; "));
  }
  rep.Check("database row counts and sequences", true,
            counted + " equal to the stopped source's (every transaction it committed is in the copy)");
  step.Done("promoted at the old server's last checkpoint " + lsn + "; " + counted);
}

void ReleaseSourceWal(const Options& o, const Sides& s, Report& rep) {
  Step step(rep, "release the old server's WAL");
  if (o.skip_db || !s.src_pg) {
    step.Skip("--skip-db");
    return;
  }
  try {
    s.src_stack->Up({s.from.db_service});
    s.src_pg->WaitReady(120, "");
    db::DropSlot(*s.src_pg, "migrate_cutover");
    StopOld(s, true);
    step.Done("replication slot migrate_cutover dropped; the old postgres stopped again");
  } catch (const Error& e) {
    TheLog().warn(std::string("could not drop the cutover's replication slot on the old server: ") + e.what());
    rep.next_steps.push_back("drop the cutover's replication slot on the old server before it runs for long "
                             "(it keeps all WAL): SELECT pg_drop_replication_slot('migrate_cutover');");
    step.Failed(e.what());
  }
}

}  // namespace mig
