#include "pipeline/downtime.h"

#include <cstdio>
#include <functional>
#include <iostream>
#include <set>

#include "core/error.h"
#include "core/timer.h"

namespace mig {

DowntimeEstimate EstimateDowntime(const DowntimeInputs& in) {
  DowntimeEstimate e;
  auto part = [&e](const char* name, double secs) {
    e.parts.emplace_back(name, secs);
    e.seconds += secs;
  };
  part("stop old services", in.docker_old + kServiceStop);
  part("final delta", in.delta);
  if (in.database && in.logical) part("replay database", kReplayFixed + in.db_bytes / kReplayBytesPerSecond);
  part("stop old postgres", in.docker_old + kPostgresStop);
  if (in.database && !in.logical) {
    part("last WAL", kLastWal);
    part("promotion", kPromote);
    part("credentials and snapshot", kCredentials);
  }
  if (in.restart) part("start new release", in.compose_new + kUp + kServiceStart * in.new_services_down);
  return e;
}

namespace {

double Timed(const std::function<void()>& f) {
  Stopwatch sw;
  f();
  return sw.seconds();
}

// The parts a dry run can time without changing anything.
void Measure(const Sides& s, DowntimeInputs& in) {
  in.docker_old = Timed([&] {
    s.src_stack->Containers();
    s.src_stack->host().Run({"docker", "version", "--format", "{{.Client.Version}}"}, {}, std::chrono::seconds(60));
  });
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
                                                 {"delta", in.delta},
                                                 {"new_services_down", in.new_services_down}}}};
  char line[160];
  std::snprintf(line, sizeof line, "about %.1f s of downtime%s", e.seconds,
                in.database && in.logical ? ", most of it the database's replay (it grows with the database)" : "");
  if (!o.quiet && !o.json) std::cout << "downtime: " << line << " (docs/cutover.md says how it is estimated)\n";
  step.Done(line);
}

}  // namespace mig
