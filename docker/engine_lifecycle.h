// `docker start` and `docker stop` through this machine's engine API instead of a docker CLI
// process (docs/engine-exec.md "Start and stop"): the physical copy's swap and a cutover's stop
// of the old release run inside the downtime, where a CLI process costs 0.2-0.5 s on a small
// server. ExecHost (docker/engine_exec.h) carries them; the argv stays what it was.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::docker {

// A `docker start` / `docker stop` argv taken apart.
struct LifecycleArgs {
  bool stop = false;                // else start
  std::optional<int> grace;         // stop's -t: seconds before SIGKILL (the engine's default when absent)
  std::vector<std::string> containers;
};

// `docker start CONTAINER...` or `docker stop [-t SECONDS] CONTAINER...`, or nullopt for any other
// argv or option (start's -a/-i, stop's --signal: the CLI runs those). Pure.
std::optional<LifecycleArgs> ParseDockerLifecycle(const std::vector<std::string>& argv);

// Runs `a` on the engine's `socket` as the CLI does: stop asks for every container at once,
// start one after the other; stdout names each container done, stderr says
// "Error response from daemon: ..." for each refused (and start, at its end, "Error: failed to
// start containers: A, B"), exit 1 when any was. An interrupt (core/interrupt.h) does not cut a
// request short: a stop ends within its grace. nullopt when the
// engine did not answer at the first request (the CLI is then run, and says why in its words).
// Throws mig::Error naming `shown` when `timeout` (0: stop's grace + http::kTimeout, start's
// http::kTimeout) passes.
std::optional<ProcResult> RunLifecycle(const std::string& socket, const LifecycleArgs& a, const std::string& shown,
                                       std::chrono::seconds timeout);

}  // namespace mig::docker
