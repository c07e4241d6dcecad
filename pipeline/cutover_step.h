// The two-phase cutover's database steps (docs/cutover.md): the source's cluster copied as a
// standby while the old release serves, its WAL shipped in rounds; then, with the old release
// stopped, its last WAL shipped and the standby promoted in place of the new release's database.
#pragma once

#include <future>
#include <memory>
#include <optional>
#include <string>

#include "db/physical.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// Phase 1 (the step "copy database (standby)", then "ship WAL"): the copy, started as a standby,
// and rounds of WAL shipping until a round ships at most two segments; the shipper then follows
// the source on a thread of its own (WalShipper::Follow) until phase 2 stops the old postgres.
// Returns the shipper; nullptr with --skip-db or when the database takes the logical path
// (the step then says so: ReplayInDowntime carries it in phase 2).
std::unique_ptr<db::WalShipper> StandbyCopy(const Options& o, Origin& origin, const Sides& s, Report& rep);

// The application_name of the cutover's own sessions on the old server (PgTarget::app_name).
inline constexpr const char* kCutoverAppName = "migrate-cutover";

// The promoted copy, counted in a snapshot taken before the new release's services start, on a
// thread of its own while they start (VerifyCutOver takes the result).
struct PromotedCopy {
  std::string source_next_xid;  // the old server's next transaction id as it stopped (xid8)
  std::unique_ptr<db::Session> snapshot;
  std::future<db::DbState> target;
};

// Phase 2 (the step "cut over database"), the old release's other services stopped and the final
// data/ delta merged: client sessions still on the old database ended (a warning), the follower
// stopped, the old postgres stopped, its last WAL shipped, the standby promoted, the new release's
// credentials re-applied, the snapshot taken.
PromotedCopy CutOverDatabase(const Sides& s, db::WalShipper& wal, Report& rep);

// Phase 2 when the database takes the logical path (another major version, or --db-method
// logical): the old database's writes held (client sessions ended, then every table SHARE-locked
// in a session of the cutover's own: a writer waits, nothing commits), its dump replayed into the
// new database (ReplayDatabase: its snapshot holds every commit), the old postgres stopped with
// the writes still held (a fast shutdown: the waiting ones never commit). The downtime then grows
// with the database (the plan says so).
void ReplayInDowntime(const Options& o, Origin& origin, const Sides& s, Report& rep);

// Once the new release runs: the old postgres started alone, counted (its rows as it stopped
// when its next transaction id is still `next_xid`; nullopt when a client wrote since or it could
// not be counted: a warning; not counted with an empty `next_xid`), the cutover's replication slot dropped (it would keep WAL forever),
// stopped again. A failure is a warning and a next step.
std::optional<db::DbState> ReleaseSourceWal(const Options& o, const Sides& s, const std::string& next_xid,
                                            Report& rep);

// The step "verify database": the copy's counts against `source`'s. A difference, or a count
// that fails, stops the new release's services again and fails the run (the report says how to
// roll back); without `source` the step is skipped with a next step.
void VerifyCutOver(const Sides& s, PromotedCopy& copy, const std::optional<db::DbState>& source, Report& rep);

}  // namespace mig
