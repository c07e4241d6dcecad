// `migrate standby promote` (docs/daemon.md "Standby").
#pragma once

#include "restore/promote.h"

namespace CLI {
class App;
}

namespace mig {

struct StandbyCommand {
  CLI::App* standby = nullptr;
  CLI::App* promote = nullptr;
  PromoteOptions o;
  bool json = false, quiet = false;
};

void AddStandbyCommand(CLI::App& app, StandbyCommand& s);
bool StandbyChosen(const StandbyCommand& s);
int RunStandbyCommand(StandbyCommand& s);

}  // namespace mig
