// The flags and environment variables of migrate and migrate-local, into a pipeline Options.
#pragma once

#include <string>

#include "compose/compose.h"
#include "pipeline/options.h"

namespace CLI {
class App;
}

namespace mig {

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
