#include "install/stack.h"

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

}  // namespace mig
