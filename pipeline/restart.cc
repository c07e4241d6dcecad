#include "pipeline/restart.h"

#include "core/log.h"

namespace mig {

void StopOld(const Sides& s, bool db_too) {
  std::vector<compose::Service> services;
  for (const auto& svc : s.from.project.services)
    if ((svc.name != s.from.db_service) != db_too) services.push_back(svc);
  if (services.empty()) return;
  TheLog().info("stopping the old stack's " + std::string(db_too ? "database" : "services") + " (project " +
                s.from.project_name + ")");
  s.src_stack->StopServices(services);  // docker stop, by compose stop's rules: no compose start-up
}

std::vector<std::string> NewServices(const Sides& s) {
  std::vector<std::string> services;
  for (const auto& svc : s.to.project.services) services.push_back(svc.name);
  return services;
}

void Restart(const Options& o, const Sides& s, Report& rep) {
  Step step(rep, "restart");
  if (o.no_restart) {
    step.Skip("--no-restart");
    return;
  }
  CheckPorts(s.to);
  s.dst_stack->Up();
  const std::vector<std::string> services = NewServices(s);
  s.dst_stack->WaitUp(services, std::chrono::seconds(o.wait_seconds));
  rep.Check("new stack up", true, std::to_string(services.size()) + " services of " + s.to.project_name);
  step.Done("project " + s.to.project_name);
}

}  // namespace mig
