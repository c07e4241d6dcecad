// The two-phase cutover's database steps (docs/cutover.md): the source's cluster copied as a
// standby while the old release serves, its WAL shipped in rounds; then, with the old release
// stopped, its last WAL shipped and the standby promoted in place of the new release's database.
#pragma once

#include <future>
#include <memory>

#include "db/physical.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// Phase 1 (the step "copy database (standby)", then "ship WAL"): the copy, started as a standby,
// and rounds of WAL shipping until a round ships at most two segments; the shipper then follows
// the source on a thread of its own (WalShipper::Follow) until phase 2 stops the old postgres.
// Returns the shipper; nullptr with --skip-db.
std::unique_ptr<db::WalShipper> StandbyCopy(const Options& o, Origin& origin, const Sides& s, Report& rep);

// The application_name of the cutover's own sessions on the old server (PgTarget::app_name).
inline constexpr const char* kCutoverAppName = "migrate-cutover";

// The old database's rows and sequences once its writers stopped, and the next transaction id
// then (the same id later: nothing wrote since).
struct SourceCount {
  db::DbState state;
  std::string next_xid;
};

// Phase 2, the old release's other services stopped: the old database counted on a thread of its
// own (beside the final data/ delta), client sessions still on it from elsewhere ended first (a
// warning), so that the count is what the copy must hold. Uses s.src_pg_aside.
std::future<SourceCount> CountSource(const Sides& s);

// The promoted copy: the source's count, and the copy's own counted in a snapshot taken before
// the new release's services start, on a thread of its own while they start.
struct PromotedCopy {
  db::DbState source;
  std::unique_ptr<db::Session> snapshot;
  std::future<db::DbState> target;
};

// Phase 2 (the step "cut over database"): the source's count taken (counted again when a
// transaction ran since), the follower stopped, the old postgres stopped, its last WAL shipped,
// the standby promoted, the new release's credentials re-applied, the snapshot taken.
PromotedCopy CutOverDatabase(const Sides& s, db::WalShipper& wal, std::future<SourceCount> counted, Report& rep);

// Once the new release runs (or --no-restart; the step "verify database"): the copy's counts
// against the source's. A difference, or a count that fails, stops the new release's services
// again and fails the run (the report says how to roll back).
void VerifyCutOver(const Sides& s, PromotedCopy& copy, Report& rep);

// Once the new release runs: the old postgres started alone, the cutover's replication slot
// dropped (it would keep WAL forever), stopped again. A failure is a warning and a next step.
void ReleaseSourceWal(const Options& o, const Sides& s, Report& rep);

}  // namespace mig
