// An install's compose stack and its database container.
#pragma once

#include <string>

#include "docker/docker.h"
#include "install/install.h"

namespace mig {

// The running container of the install's database service; the service is started (and
// waited for up to `wait_seconds`) when it is down, and `started` set. Throws mig::Error naming
// the service and how to see its log when it stops right after starting.
std::string EnsureDbRunning(const docker::Stack& stack, const Install& in, int wait_seconds, bool& started);

// The services of `stack` with a running container, other than `except`, in compose's order.
std::vector<std::string> RunningServices(const docker::Stack& stack, const std::string& except);

// Services stopped for a while (a backup's --suspend, a restore) and started again: by
// StartAgain(), or on the way out of an exception by the destructor (which only logs).
class PausedServices {
 public:
  explicit PausedServices(const docker::Stack& stack) : stack_(stack) {}
  ~PausedServices();
  PausedServices(const PausedServices&) = delete;
  PausedServices& operator=(const PausedServices&) = delete;
  // Stops `services` (`why`: for the log, e.g. "for the backup").
  void Pause(const std::vector<std::string>& services, const std::string& why);
  const std::vector<std::string>& paused() const { return paused_; }
  // Starts them again (compose start); throws mig::Error with the command to run by hand.
  void StartAgain();
  // They stay stopped (e.g. restore --no-restart).
  void Keep() { paused_.clear(); }

 private:
  const docker::Stack& stack_;
  std::vector<std::string> paused_;
};

}  // namespace mig
