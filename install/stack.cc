#include "install/stack.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "core/log.h"

namespace mig {

std::string EnsureDbRunning(const docker::Stack& stack, const Install& in, int wait_seconds, bool& started) {
  std::string c = stack.RunningContainer(in.db_service);
  if (!c.empty()) return c;
  TheLog().info("starting the " + in.role + "'s " + in.db_service + " service (project " + stack.project() + ")");
  stack.Up({in.db_service});
  stack.WaitUp({in.db_service}, std::chrono::seconds(wait_seconds));
  started = true;
  c = stack.RunningContainer(in.db_service);
  if (c.empty())
    Fail("the " + in.role + "'s " + in.db_service + " service (project " + stack.project() +
         ") stopped right after it started: look at its log (" + CommandLine(stack.Command({"logs", in.db_service})) + ")");
  return c;
}

std::vector<std::string> RunningServices(const docker::Stack& stack, const std::string& except) {
  std::vector<std::string> out;
  for (const auto& c : stack.Containers())
    if (c.running() && c.service != except && std::find(out.begin(), out.end(), c.service) == out.end())
      out.push_back(c.service);
  return out;
}

PausedServices::~PausedServices() {
  try {
    StartAgain();
  } catch (const std::exception& e) {
    TheLog().warn(e.what());
  } catch (...) {
  }
}

void PausedServices::Pause(const std::vector<std::string>& services, const std::string& why) {
  if (services.empty()) return;
  std::string names;
  for (const auto& s : services) names += (names.empty() ? "" : ", ") + s;
  TheLog().info("stopping " + why + ": " + names);
  paused_.insert(paused_.end(), services.begin(), services.end());
  stack_.Stop(services);
}

void PausedServices::StartAgain() {
  if (paused_.empty()) return;
  std::vector<std::string> args{"start"};
  args.insert(args.end(), paused_.begin(), paused_.end());
  paused_.clear();
  try {
    stack_.Run(args, std::chrono::seconds(300));
  } catch (const Error& e) {
    Fail(std::string("the services stopped for a while did not start again (") + e.what() + "): start them with " +
         CommandLine(stack_.Command(args)));
  }
}

}  // namespace mig
