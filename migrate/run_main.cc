#include "migrate/run_main.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "core/error.h"

namespace mig {

int RunMain(const std::string& program, const std::function<int()>& body) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that exits early is an error we report, not a kill
  try {
    return body();
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: error: %s (see %s --help)\n", program.c_str(), e.what(), program.c_str());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program.c_str(), e.what());
    return kExitFailed;
  }
}

}  // namespace mig
