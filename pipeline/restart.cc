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

ExpectedConfig AskExpectedConfig(const Options& o, const Sides& s) {
  if (o.no_restart) return {};
  return std::async(std::launch::async, [&s]() -> std::optional<std::map<std::string, std::string>> {
    try {
      return s.dst_stack->ConfigHashes();
    } catch (const std::exception& e) {  // compose up will say it again, if it matters
      TheLog().info(std::string("compose could not say what it would make of the new release: ") + e.what());
      return std::nullopt;
    }
  });
}

void Restart(const Options& o, const Sides& s, Report& rep, ExpectedConfig* expected) {
  Step step(rep, "restart");
  if (o.no_restart) {
    step.Skip("--no-restart");
    return;
  }
  CheckPorts(s.to);
  std::optional<std::map<std::string, std::string>> hashes;
  if (expected && expected->valid()) hashes = expected->get();
  bool unchanged = false;
  if (hashes) {
    std::map<std::string, std::string> images;  // compose v1 names a service's image, or builds <project>_<service>
    for (const auto& svc : s.to.project.services)
      images[svc.name] = docker::ImageId(svc.image.empty() ? s.to.project_name + "_" + svc.name : svc.image,
                                         s.dst_stack->host());
    unchanged = docker::UpToDate(*hashes, s.to.project.services, images, s.dst_stack->Containers());
  }
  if (unchanged)
    TheLog().info("compose up -d skipped: every service of " + s.to.project_name +
                  " already runs a container of its current configuration");
  else
    s.dst_stack->Up();
  const std::vector<std::string> services = NewServices(s);
  s.dst_stack->WaitUp(services, std::chrono::seconds(o.wait_seconds));
  rep.Check("new stack up", true, std::to_string(services.size()) + " services of " + s.to.project_name);
  step.Done("project " + s.to.project_name + (unchanged ? " (already up and unchanged: compose up not needed)" : ""));
}

}  // namespace mig
