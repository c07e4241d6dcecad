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

}  // namespace mig
