// migrate-agent: the program that runs on the OLD server during a remote migration.
// A stub until the remote migration (issue 4) lands: it answers --help and --version only.
#include <CLI/CLI.hpp>

#include "core/error.h"
#include "migrate/run_main.h"

int main(int argc, char** argv) {
  return mig::RunMain("migrate-agent", [&]() -> int {
    CLI::App app{"migrate-agent " MIGRATE_VERSION
                 ": the far side of a remote migration (runs on the old server).\n"
                 "Not implemented yet: this build is a stub; use migrate-local on one server.",
                 "migrate-agent"};
    app.set_version_flag("--version", MIGRATE_VERSION);
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e);
    }
    mig::BadUsage("the agent protocol is not implemented in this version");
  });
}
