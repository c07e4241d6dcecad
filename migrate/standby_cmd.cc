#include "migrate/standby_cmd.h"

#include <CLI/CLI.hpp>

#include "core/log.h"
#include "install/install.h"
#include "migrate/options.h"
#include "migrate/run_main.h"

namespace mig {

void AddStandbyCommand(CLI::App& app, StandbyCommand& s) {
  s.standby = app.add_subcommand("standby", "a DR standby kept by the daemon (docs/daemon.md \"Standby\")");
  s.standby->require_subcommand(1);
  s.promote = s.standby->add_subcommand(
      "promote", "make the standby the primary: recorded as promoted (no standby restore replaces it), its services "
                 "started, then --dns-hook; stop the old primary first");
  PromoteOptions& o = s.o;
  s.promote->add_option("--to-path", o.to_path, "the standby install (default: the current folder; env TO_PATH)")
      ->envname("TO_PATH")
      ->type_name("DIR");
  s.promote->add_option("-p,--project", o.project, "the compose project name (default: detected)");
  s.promote->add_option("--db-service", o.db_service, "the compose service running postgres")->capture_default_str();
  AddDnsHookOptions(*s.promote, o.dns_hook, "once the services run", "the old primary's address; default empty");
  s.promote->add_flag("-n,--dry-run", o.dry_run, "say what would be done, change nothing");
  s.promote->add_flag("-y,--yes", o.yes, "do not ask");
  s.promote->add_option("--wait", o.wait_seconds, "seconds to wait for the services")->capture_default_str();
  s.promote->add_flag("--json", s.json, "print the report as JSON");
  s.promote->add_flag("-q,--quiet", s.quiet, "print only warnings, errors and the summary");
}

bool StandbyChosen(const StandbyCommand& s) { return s.standby && *s.standby; }

int RunStandbyCommand(StandbyCommand& s) {
  if (s.quiet || s.json) TheLog().set_quiet(true);
  ResolveDnsHook(s.o.dns_hook, ProcessEnv(), true);  // OLD_IP: the old primary's, only the operator knows it
  return FinishRun(RunPromote(s.o), s.json);
}

}  // namespace mig
