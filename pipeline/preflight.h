// The preflight step: everything checked before anything changes (docker and compose on both
// sides, both postgres services, the new release's ports, room for the data and a dump).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "db/physical.h"
#include "db/postgres.h"
#include "docker/docker.h"
#include "install/install.h"
#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/report.h"

namespace mig {

// The two installs as the preflight found them: what the later steps work on.
struct Sides {
  Install from, to;
  std::optional<docker::Stack> src_stack, dst_stack;
  std::optional<db::Postgres> src_pg, dst_pg;  // absent with --skip-db, or in a dry run whose postgres is down
  bool started_source_db = false;              // the preflight started it: stopped again at the end
  int src_major = 0;
  // How the database is carried (docs/physical-db.md), and where the target's cluster lives when
  // it is copied as files.
  db::DbMethodChoice db_method;
  std::optional<db::ClusterHome> dst_home;
  // --two-phase: the old cluster's last WAL is read from it; else, when set, its folder is here
  // and the copy is written there as files (docs/physical-db.md "Both clusters on this host").
  std::optional<db::ClusterHome> src_home;
  // --two-phase: src_pg through Origin::ConcurrentHost, named "migrate-cutover" (PgTarget::app_name),
  // for the WAL shipper, whose follower runs beside the final data/ delta.
  std::optional<db::Postgres> src_pg_aside;
  uint64_t src_db_bytes = 0, dst_db_bytes = 0;
  uint64_t data_bytes = 0;  // the source's data/, the room check's figure
  bool source_data = true;  // the source has a data/ (a legacy release may not: docs/legacy.md)
  // A legacy source (docs/legacy.md): why it is one ("" when it is not); its database's volume.
  std::string legacy, legacy_db_volume;
  // A session to the source opened ahead; refers to *src_pg, which is therefore never replaced
  // once it is set. A logical replay's (not a dry run), to its database, opened beside the
  // source's probe: its snapshot is exported in it (taken by StartReplaySessions). A physical
  // copy's (not two-phase), to its database, opened once the method is chosen: the source's WAL
  // is held in it and the source marked as the backup begins (CopyDatabase).
  std::unique_ptr<db::OpeningSession> src_session;
};

// Runs the preflight on the loaded installs into `s` (empty; filled in place: the session it
// opens refers to s.src_pg), recording each check in `rep`. Starts a stopped postgres service
// (not in a dry run). Throws mig::Error naming the first refusal: input (exit 2) for what the
// operator must change in an install, failed (exit 1) otherwise.
void Preflight(const Options& o, Origin& origin, Install from, Install to, Report& rep, Sides& s);

// Refuses (mig::Error) when another stack publishes a host port of the target's services:
// checked in preflight and again right before the restart.
void CheckPorts(const Install& to);

}  // namespace mig
