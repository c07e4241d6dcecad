#include "pipeline/restart.h"

#include "core/log.h"
#include "core/text.h"

namespace mig {

void StopOld(const Sides& s, bool db_too) {
  std::vector<std::string> services;
  for (const auto& svc : s.from.project.services)
    if ((svc.name != s.from.db_service) != db_too) services.push_back(svc.name);
  if (services.empty()) return;
  TheLog().info("stopping the old stack's " + std::string(db_too ? "database" : "services") + " (project " +
                s.from.project_name + ")");
  s.src_stack->Stop(services);
}

std::vector<std::string> NewServices(const Sides& s) {
  std::vector<std::string> services;
  for (const auto& svc : s.to.project.services) services.push_back(svc.name);
  return services;
}

void PrepareRestart(const Options& o, Sides& s, Report& rep) {
  Step step(rep, "create new services");
  if (o.no_restart) {
    step.Skip("--no-restart");
    return;
  }
  std::vector<std::string> others;
  for (const auto& svc : NewServices(s))
    if (svc != s.to.db_service) others.push_back(svc);
  if (others.empty()) {
    step.Skip("no service but the database");
    return;
  }
  s.dst_stack->Create(others);
  s.dst_created = true;
  step.Done(Joined(others) + " made, not started");
}

void Restart(const Options& o, const Sides& s, Report& rep) {
  Step step(rep, "restart");
  if (o.no_restart) {
    step.Skip("--no-restart");
    return;
  }
  CheckPorts(s.to);
  const std::vector<std::string> services = NewServices(s);
  // Containers made before the downtime (--two-phase) are only started; else compose makes them.
  const bool made_before = s.dst_created && s.dst_stack->Start(services);
  if (!made_before) s.dst_stack->Up();
  s.dst_stack->WaitUp(services, std::chrono::seconds(o.wait_seconds));
  rep.Check("new stack up", true, std::to_string(services.size()) + " services of " + s.to.project_name);
  step.Done("project " + s.to.project_name + (made_before ? ", its services made before the downtime started" : ""));
}

}  // namespace mig
