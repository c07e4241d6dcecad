// `docker exec` through this machine's engine API instead of a docker CLI process per program
// (docs/engine-exec.md): the database steps' psql, pg_dump and pg_restore start 0.1-0.3 s sooner
// each. The argv stays `docker exec ...` (logs, messages, recordings, and the old server, where
// the CLI runs over SSH, see the same command); only how it is carried changes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::docker {

// A `docker exec` argv taken apart.
struct ExecArgs {
  std::string container;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // NAME=VALUE
  std::string user;
  bool interactive = false;  // -i: our stdin is the program's
  bool detach = false;       // -d: started, not attached, not waited for
};

// `docker exec [-i] [-d] [-u USER] [-e NAME=VALUE]... CONTAINER PROGRAM ARGS...` taken apart,
// or nullopt for any other argv or option (the CLI runs those). Pure.
std::optional<ExecArgs> ParseDockerExec(const std::vector<std::string>& argv);

// A Host in front of `inner` (this machine's, which outlives it): what ParseDockerExec takes,
// and what ParseDockerLifecycle takes (docker/engine_lifecycle.h, Run only), runs through the
// engine's API when api::SocketFor(inner) names a socket and the engine answers there;
// everything else, and everything when no socket is named, runs on `inner`.
// Programs started through the API are Procs as inner's are: read/write/close_stdin/wait/kill,
// err_text (their stderr, last 1 MiB), shut down by TerminateChildren. Thread-safe as `inner`.
class ExecHost : public HostInFront {
 public:
  using HostInFront::HostInFront;
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                 std::chrono::seconds timeout = std::chrono::seconds(0)) const override;
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override;
};

}  // namespace mig::docker
