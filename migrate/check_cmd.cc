#include "migrate/check_cmd.h"

#include <functional>
#include <iostream>

namespace mig {

int RunCheck(const health::CheckOptions& o, bool json) {
  health::Runner run = health::SystemRunner();
  // Producers in the order of the table; a failed check is a row, never an exception.
  std::vector<std::function<std::vector<health::Check>()>> producers = {
      [&] { return health::LocalChecks(o); },
      [&] { return health::RemoteChecks(o); },
      [&] {
        auto nvml = health::MakeNvmlSource();
        auto smi = health::MakeSmiSource(run);
        return health::GpuChecks(o, health::ReadGpus(*nvml, *smi), run);
      },
  };
  std::vector<health::Check> rows;
  for (const auto& produce : producers) {
    auto more = produce();
    rows.insert(rows.end(), more.begin(), more.end());
  }
  if (json) std::cout << health::ToJson(rows).dump(2) << "\n";
  else health::PrintTable(std::cout, rows);
  return health::ExitCode(rows);
}

}  // namespace mig
