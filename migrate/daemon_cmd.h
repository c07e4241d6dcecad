// `migrate daemon` (docs/daemon.md).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace mig {

struct DaemonCommand {
  CLI::App* cmd = nullptr;
  std::string config = "/etc/migrate/daemon.yml";
  bool check = false;
};

void AddDaemonCommand(CLI::App& app, DaemonCommand& d);
// Runs until SIGTERM or SIGINT; 0 after a clean stop.
int RunDaemonCommand(const DaemonCommand& d);

}  // namespace mig
