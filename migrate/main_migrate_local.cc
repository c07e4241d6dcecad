// migrate-local: same-server migration from an old install folder into a new one.
#include <CLI/CLI.hpp>
#include <iostream>

#include "core/log.h"
#include "pipeline/dns_hook.h"
#include "install/install.h"
#include "migrate/run_main.h"
#include "migrate/options.h"
#include "pipeline/pipeline.h"

int main(int argc, char** argv) {
  return mig::RunMain("migrate-local", [&]() -> int {
    CLI::App app{
        "migrate-local " MIGRATE_VERSION ": carry an old install's data/ and postgres database into a new\n"
        "install on the same server, then restart the new one.\n\n"
        "  cd releases/NEW && migrate-local --from-path ../OLD\n\n"
        "data/ is merged with rsync -a rules (target-only files kept), the database is fully\n"
        "replaced by the old one's. A safety copy (data.backup/ and a dump of the new database)\n"
        "goes to NEW/migration/<timestamp>/ first. Exit codes: 0 ok, 1 failed, 2 bad usage/input.",
        "migrate-local"};
    mig::Options o;
    mig::AddMigrateOptions(app, o);
    app.set_version_flag("--version", MIGRATE_VERSION);
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e);
    }
    mig::ApplyEnvironment(o, mig::ProcessEnv(), app.count("--to-path") > 0, app.count("--dry-run") > 0);
    mig::TheLog().set_quiet(o.quiet || o.json);
    return mig::FinishRun(mig::RunMigration(o), o.json);
  });
}
