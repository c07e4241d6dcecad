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
// --dns-hook, --dns-name, --new-ip, --old-ip on `app`; `when` starts the hook's help ("after a
// successful migration"), `old_ip` says what OLD_IP is by default.
void AddDnsHookOptions(CLI::App& app, DnsHook& h, const std::string& when, const std::string& old_ip);
// A hook's values completed from DNS_NAME, NEW_IP, OLD_IP in `env`: NEW_IP defaults to this
// host's address, OLD_IP to NEW_IP unless `remote` (another server's: a migration fills it
// in once connected; a promotion leaves it as given).
// Throws mig::Error (usage) for values without a hook, or an address that is not IPv4.
void ResolveDnsHook(DnsHook& h, const compose::Env& env, bool remote);
// True for "1", "true", "yes", "on" (any case).
bool Truthy(const std::string& v);

}  // namespace mig
