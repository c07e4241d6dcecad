// The database step: the source database replaces the target's, by the method the preflight
// chose: a dump replayed (db/replay.h), verified before it is swapped in, or the whole cluster
// copied as files (db/physical.h, docs/physical-db.md); recorded in the report with its timings
// and wire bytes.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>

#include "db/physical.h"
#include "core/progress.h"
#include "core/timer.h"
#include "db/replay.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// The replay's two sessions, started ahead (StartReplaySessions).
struct ReplaySessions {
  std::unique_ptr<db::OpeningSession> source;  // its snapshot is exported in it
  std::shared_ptr<db::OpeningSession> target;  // to the target's "postgres" database
};

// Replays s.src_pg into s.dst_pg (the step "replay database"); skipped with --skip-db. On a
// failure before the swap the target database is untouched (db::Replay's contract) and this
// throws mig::Error naming what failed. The target's previous database is left, renamed, for
// RetiredDrop. `before_change` is called before the target database changes (the safety
// copy's dump still being taken is waited for there); a throw from it leaves the target
// untouched. `started`: the sessions StartReplaySessions started (else they are opened here).
void ReplayDatabase(const Options& o, Origin& origin, const Sides& s, Report& rep,
                    const std::function<void()>& before_change = nullptr, ReplaySessions started = {});

// The logical replay on a thread of its own while data/ is merged (docs/pipeline.md "The
// replay beside the merge"): the dump is streamed into the staging database and verified
// meanwhile; the swap waits for MergeDone() and then for `before_swap` (the safety copy's dump
// of the target), both on the replay's thread. A merge that fails stops it with the target
// untouched: the destructor of one never told MergeDone() stops the stream and waits for the
// thread, which drops the staging database. Destroyed without Finish() after MergeDone() (a
// step between them failed), it stops the replay the same way unless its swap has begun. The source's programs run on
// Origin::ConcurrentHost (exec channels: the merge holds the agent's session), its dump on
// Origin::DumpHost where the merge ended before the dump starts (a re-run with little to merge:
// no login for it). Its progress is shown once the merge is done (Finish). Driven by one thread; REQUIRES `origin`, `s` and what
// `before_swap` uses outlive it.
class ReplayBeside {
 public:
  // Whether this run's replay may run beside its merge: a logical replay with a data/ merge,
  // neither a two-phase cutover nor a legacy source (whose root files move after the merge).
  static bool Fits(const Options& o, const Sides& s);
  ReplayBeside(const Options& o, Origin& origin, const Sides& s, std::function<void()> before_swap,
               ReplaySessions started);
  ~ReplayBeside();
  ReplayBeside(const ReplayBeside&) = delete;
  ReplayBeside& operator=(const ReplayBeside&) = delete;

  // The merge ended well: the replay may swap once it is verified.
  void MergeDone();
  // Waits for the replay (its progress shown meanwhile), records the step "replay database" as
  // ReplayDatabase does, and throws what the replay threw.
  void Finish(Report& rep);

 private:
  const Options& o_;
  const Sides& s_;
  std::function<void()> before_swap_;
  Origin& origin_;
  std::atomic<bool> merged_flag_{false};   // MergeDone() was called
  std::atomic<bool> dumped_after_{false};  // the dump started on Origin::DumpHost
  std::unique_ptr<Host> dump_host_;        // Origin::DumpHost once merged_flag_, else ConcurrentHost
  db::Postgres source_;                    // the source's postgres on the origin's concurrent host
  std::promise<void> merged_;
  std::shared_future<void> merged_seen_;
  bool merge_told_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<double> waited_{0};  // seconds the verified replay waited for the merge and the dump
  Stopwatch clock_;
  Progress progress_;  // the main thread's only: shown by Finish(), its rate since the replay began
  std::future<db::ReplayResult> replay_;  // last: its thread uses the members above
};

// The replay's sessions to the source and the target, started now (the source's: the one the
// preflight started beside its probe, taken from `s`, when there is one), so that their start
// (over SSH a login; a docker exec and psql's connection, 0.2-0.9 s) overlaps the safety copy
// and the merge: no transaction is open in them until the replay begins. None where the replay
// takes no live dump (--skip-db, the physical path, --two-phase).
ReplaySessions StartReplaySessions(const Options& o, Sides& s);

// The target's previous database, left by a logical replay, dropped inside its container in
// the background (its DROP forces a checkpoint: 0.5-1.5 s nobody needs to wait for). Its
// `docker exec -d` (0.1-0.3 s) starts on a thread, beside the restart; Finish records a start
// that failed (the next replay drops it before its swap). Nothing to do after --skip-db or the
// physical path.
class RetiredDrop {
 public:
  RetiredDrop(const Options& o, const Sides& s);
  void Finish(Report& rep);

 private:
  std::future<std::string> started_;  // why it did not start, or ""
};

// report.json's database.wire where the old server's agent carried the bytes (nothing on this
// server): {"via": "migrate-agent", "agent_bytes_received": its session's bytes so far}.
void RecordAgentWire(const Origin& origin, Report& rep);

// The one line that puts the target database back from the safety copy's dump.
std::string DbRollbackCommand(const Install& to, const std::string& run_dir);
// The same for a migration: the dump's, or the kept cluster's (the physical path).
std::string DbRollbackCommand(const Sides& s, const std::string& run_dir);
// The safety copy's file of the target's database for the method the preflight chose.
std::string TargetDbCopyName(const Sides& s);

}  // namespace mig
