#include "health/runner.h"

#include "core/error.h"

namespace mig::health {

Runner SystemRunner() {
  return [](const std::vector<std::string>& argv, std::chrono::seconds timeout) {
    try {
      return RunCapture(argv, {}, timeout);
    } catch (const Error& e) {
      ProcResult r;
      std::string why = e.what();
      r.code = why.find("not installed") != std::string::npos ? kNotInstalled : -1;
      r.err = why;
      return r;
    }
  };
}

}  // namespace mig::health
