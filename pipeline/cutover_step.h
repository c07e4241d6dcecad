// The two-phase cutover's database steps (docs/cutover.md): the source's cluster copied as a
// standby while the old release serves, its WAL shipped in rounds; then, with the old release
// stopped, its last WAL shipped and the standby promoted in place of the new release's database.
#pragma once

#include <memory>

#include "db/physical.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// Phase 1 (the step "copy database (standby)", then "ship WAL"): the copy, started as a standby,
// and rounds of WAL shipping until a round ships at most two segments. Returns the shipper that
// phase 2 goes on with; nullptr with --skip-db.
std::unique_ptr<db::WalShipper> StandbyCopy(const Options& o, Origin& origin, const Sides& s, Report& rep);

// Phase 2 (the step "cut over database"), the old release's other services already stopped: the
// source counted (nothing writes any more), its postgres stopped, its last WAL shipped, the standby
// promoted, the new release's credentials re-applied and its rows compared.
void CutOverDatabase(const Sides& s, db::WalShipper& wal, Report& rep);

// Once the new release runs: the old postgres started alone, the cutover's replication slot
// dropped (it would keep WAL forever), stopped again. A failure is a warning and a next step.
void ReleaseSourceWal(const Options& o, const Sides& s, Report& rep);

}  // namespace mig
