#include "pipeline/downtime.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <set>

#include "core/error.h"
#include "core/timer.h"

namespace mig {

double PaceFactor(double pace) {
  if (pace <= 0) return 1;
  // The probe runs under the old release's load; the downtime mostly after its writers stopped:
  // measured, the downtime slowed by about the square root of what the probe slowed by.
  return std::clamp(std::sqrt(pace / kPaceRef), 0.5, 3.0);
}

DowntimeEstimate EstimateDowntime(const DowntimeInputs& in) {
  DowntimeEstimate e;
  auto part = [&e](const char* name, double secs) {
    e.parts.emplace_back(name, secs);
    e.seconds += secs;
  };
  const double f = PaceFactor(in.pace);
  part("stop old services", in.docker_old + f * kServiceStop);
  part("final delta", in.delta + f * kDeltaSync);
  if (in.database && in.logical) part("replay database", kReplayFixed + in.db_bytes / kReplayBytesPerSecond);
  part("stop old postgres", in.docker_old + f * kPostgresStop);
  if (in.database && !in.logical) {
    part("last WAL", f * kLastWal);
    part("promotion", f * kPromote);
    part("credentials and snapshot", f * kCredentials);
  }
  if (in.restart) part("start new release", in.compose_new + f * kUp + kServiceStart * in.new_services_down);
  return e;
}

namespace {

double Timed(const std::function<void()>& f) {
  Stopwatch sw;
  f();
  return sw.seconds();
}

// The median of three `docker exec C true` in the old database's container (another running
// one of the old release where it is down); 0 when none runs or one fails.
double Pace(const Sides& s, const std::vector<docker::Container>& old) {
  std::string container;
  for (const auto& c : old)
    if (c.running() && !c.oneoff && (container.empty() || c.service == s.from.db_service)) container = c.id;
  if (container.empty()) return 0;
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) {
    bool ok = true;
    t.push_back(Timed([&] {
      try {
        ok = s.src_stack->host().Run({"docker", "exec", container, "true"}, {}, std::chrono::seconds(30)).ok();
      } catch (const Error&) {  // past its time: the constants as fitted
        ok = false;
      }
    }));
    if (!ok) return 0;
  }
  std::sort(t.begin(), t.end());
  return t[1];
}

// The parts a dry run can time without changing anything.
void Measure(const Sides& s, DowntimeInputs& in) {
  std::vector<docker::Container> old;
  in.docker_old = Timed([&] {
    old = s.src_stack->Containers();
    s.src_stack->host().Run({"docker", "version", "--format", "{{.Client.Version}}"}, {}, std::chrono::seconds(60));
  });
  in.pace = Pace(s, old);
  in.compose_new = Timed([&] { s.dst_stack->Run({"ps", "-q"}, std::chrono::seconds(120)); });
  std::set<std::string> running;
  for (const auto& c : s.dst_stack->Containers())
    if (c.running()) running.insert(c.service);
  for (const auto& svc : s.to.project.services)  // its database runs by then (the standby)
    if (!running.count(svc.name) && svc.name != s.to.db_service) ++in.new_services_down;
}

}  // namespace

void EstimateDowntimeStep(const Options& o, const Sides& s, Report& rep) {
  Step step(rep, "estimate downtime");
  DowntimeInputs in;
  for (const auto& r : rep.steps)  // the dry run's own listing of both trees
    if (r.name == "plan data/" && r.status == "ok") in.delta = r.seconds;
  in.database = !o.skip_db && s.src_pg;
  in.logical = s.db_method.method != db::DbMethod::kPhysical;
  in.db_bytes = static_cast<double>(s.src_db_bytes);
  in.restart = !o.no_restart;
  try {
    Measure(s, in);
  } catch (const Error& e) {  // the plan stands without it
    step.Failed(std::string("not estimated: ") + e.what());
    return;
  }
  const DowntimeEstimate e = EstimateDowntime(in);
  nlohmann::json parts = nlohmann::json::object();
  for (const auto& [name, secs] : e.parts) parts[name] = secs;
  rep.data["downtime_estimate"] = {{"seconds", e.seconds},
                                   {"parts", parts},
                                   {"measured", {{"docker_old", in.docker_old},
                                                 {"compose_new", in.compose_new},
                                                 {"pace", in.pace},
                                                 {"pace_factor", PaceFactor(in.pace)},
                                                 {"delta", in.delta},
                                                 {"new_services_down", in.new_services_down}}}};
  char line[160];
  std::snprintf(line, sizeof line, "about %.1f s of downtime%s", e.seconds,
                in.database && in.logical ? ", most of it the database's replay (it grows with the database)" : "");
  if (!o.quiet && !o.json) std::cout << "downtime: " << line << " (docs/cutover.md says how it is estimated)\n";
  step.Done(line);
}

}  // namespace mig
