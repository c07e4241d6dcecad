// The two-phase cutover's downtime as a dry run estimates it (docs/cutover.md "The estimate"):
// the parts a dry run can time without changing anything are timed (a compose call on each side,
// the listing of both data/ trees); the others are the constants below.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// What the dry run measured, in seconds.
struct DowntimeInputs {
  // The docker calls of one stop on the old server: the project's containers (a question, on
  // this machine's engine its API) and a docker process (docker stop).
  double docker_old = 0;
  double compose_new = 0;  // one compose call on the new release (its start, compose up, costs one)
  // One `docker exec ... true` in a running container of the old release (its database's where
  // it runs; the median of three): how fast this machine's engine is now. 0: not measured.
  double pace = 0;
  double delta = 0;        // the dry run's listing of both data/ trees: the final delta's bound
  int new_services_down = 0;  // the new release's services not running now (each must start)
  bool database = true;       // false with --skip-db: the old postgres only stops
  bool logical = false;       // the database's dump replayed inside the downtime (no standby)
  double db_bytes = 0;        // with `logical`: the old database's size (pg_database_size)
  bool restart = true;        // false with --no-restart: the downtime ends with the cut over
};

struct DowntimeEstimate {
  double seconds = 0;
  std::vector<std::pair<std::string, double>> parts;  // in the order the cutover runs them
};

// Modelled parts (s), measured on the bench install under pgbench (docs/cutover.md) when one
// `docker exec` took kPaceRef there: the old services' SIGTERM, exit and teardown beyond the
// docker calls; the final merge's own part beyond its listing (its syncfs); ending the other
// sessions and postgres' shutdown checkpoint; the follower's round in flight and the last WAL
// (a helper container reading the stopped cluster); the promotion; credentials and the
// snapshot; compose up beyond its call. They scale with PaceFactor. kServiceStart, a service
// that starts (its first health check), does not: a health check's interval is the clock's.
inline constexpr double kPaceRef = 0.13;
inline constexpr double kServiceStop = 0.75, kDeltaSync = 0.25, kPostgresStop = 0.7, kLastWal = 1.3,
                        kPromote = 0.65, kCredentials = 0.3, kUp = 0.2, kServiceStart = 2.0;
// The modelled parts' scale on this machine now: sqrt(pace / kPaceRef), within [0.5, 3]; 1 when
// the pace was not measured.
double PaceFactor(double pace);
// The logical path's replay inside the downtime: its fixed part (the staging database, the
// verification, the swap) and its rate in bytes of the old database a second (pgbench scale 20,
// 307 MB, replayed in 6.4 s on the bench machine: docs/benchmarks.md "Database replay").
inline constexpr double kReplayFixed = 0.7, kReplayBytesPerSecond = 54e6;

// Pure: the parts and their sum.
DowntimeEstimate EstimateDowntime(const DowntimeInputs& in);

// The dry run's step "estimate downtime" (--two-phase): times what it can, records the estimate
// in the report (data.downtime_estimate) and prints it.
void EstimateDowntimeStep(const Options& o, const Sides& s, Report& rep);

}  // namespace mig
