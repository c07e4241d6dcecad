// The options of migrate-local (and, later, migrate), from flags and environment variables.
#pragma once

#include <string>

#include "compose/compose.h"
#include "ssh/session.h"
#include "migrate/dns_hook.h"

namespace CLI {
class App;
}

namespace mig {

// Everything a migration run is told. Flags win over the environment.
struct Options {
  std::string from_path, to_path, temp_dir;
  std::string from_project, to_project;
  std::string db_service = "postgres";
  bool dry_run = false, yes = false, json = false, quiet = false;
  bool checksum = false, skip_db = false, skip_data = false, stop_old = false, no_restart = false;
  int wait_seconds = 180;
  bool show_plan = false;  // --dry-run --list: every path, not only totals
  // The remote migration (migrate --from): the old server and how to reach it.
  std::string from;     // user@host[:port] (env FROM); empty: the old install is on this server
  std::string to_host;  // env TO: the new server as the operator names it (informative)
  ssh::Options ssh;     // --key (env KEY), --known-hosts, --accept-new-host-key
  bool sudo = false;    // run the agent with sudo -n
  DnsHook dns_hook;        // --dns-hook and the values it gets
};

// Declares the flags on `app`.
void AddMigrateOptions(CLI::App& app, Options& o);
// The remote migration's flags: --from (env FROM), --to (env TO), --key (env KEY),
// --known-hosts, --accept-new-host-key, --sudo.
void AddRemoteOptions(CLI::App& app, Options& o);
// Fills what the flags left unset from FROM_PATH, TO_PATH, TO_PATH_TEMP, DRY_RUN; to_path
// defaults to the current folder. With a --dns-hook: DNS_NAME, NEW_IP (default: this host's
// address), OLD_IP (default: NEW_IP, the same server).
void ApplyEnvironment(Options& o, const compose::Env& env, bool to_path_given, bool dry_run_given);
// True for "1", "true", "yes", "on" (any case).
bool Truthy(const std::string& v);

}  // namespace mig
