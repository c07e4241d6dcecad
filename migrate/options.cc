#include "migrate/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "dns/dns.h"

namespace mig {

bool Truthy(const std::string& v) {
  std::string l = v;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  return l == "1" || l == "true" || l == "yes" || l == "on";
}

void AddMigrateOptions(CLI::App& app, Options& o) {
  app.add_option("--from-path", o.from_path, "the old install folder (env FROM_PATH)");
  app.add_option("--to-path", o.to_path, "the new install folder (env TO_PATH; default: the current folder)");
  app.add_option("--temp-dir", o.temp_dir,
                 "where migration/<timestamp>/ goes (env TO_PATH_TEMP; default: TO_PATH/migration)");
  app.add_option("--db-service", o.db_service, "the compose service running postgres")->capture_default_str();
  app.add_option("--from-project", o.from_project, "the old stack's compose project name (default: detected)");
  app.add_option("--to-project", o.to_project, "the new stack's compose project name (default: detected)");
  app.add_flag("-n,--dry-run", o.dry_run, "print the plan and change nothing (env DRY_RUN=1)");
  app.add_flag("--list", o.show_plan, "with --dry-run: list every path the merge would write");
  app.add_flag("-y,--yes", o.yes, "do not ask for confirmation");
  app.add_flag("--json", o.json, "print the report as JSON on stdout");
  app.add_flag("-q,--quiet", o.quiet, "print only warnings, errors and the summary");
  app.add_flag("-c,--checksum", o.checksum, "compare file contents, not size and time, to decide what to copy");
  app.add_flag("--skip-db", o.skip_db, "do not replay the database");
  app.add_option_function<std::string>(
         "--db-method",
         [&o](const std::string& v) {
           o.db_method = db::ParseDbMethod(v);
           o.db_method_given = true;
         },
         "how the database is carried: logical (a dump replayed into the new database; default), physical (the "
         "old server's whole cluster copied as files and swapped in: same postgres major version >= 15 on both "
         "sides; the new release keeps its own settings and credentials), auto (physical when it can be)")
      ->check(CLI::IsMember({"logical", "physical", "auto"}))
      ->type_name("METHOD");
  app.add_flag("--two-phase", o.two_phase,
               "copy everything while the old release serves (data/, the database as a standby of the old one), then "
               "stop it, send the last changes and start the new one: seconds of downtime, recorded in the report "
               "(the database as a standby needs the same postgres major version >= 15 on both sides; else, or with "
               "--db-method logical, its dump is replayed inside the downtime); with --dry-run, an estimate of the "
               "downtime");
  app.add_flag("--skip-data", o.skip_data, "do not merge data/");
  app.add_flag("--stop-old", o.stop_old,
               "stop the old stack's services before copying (integrity over uptime); its database last");
  app.add_flag("--no-restart", o.no_restart, "do not restart the new stack at the end");
  app.add_option("--wait", o.wait_seconds, "seconds to wait for the new stack to come up")->capture_default_str();
  AddDnsHookOptions(app, o.dns_hook, "after a successful migration",
                    "default: the old server's address with --from, else NEW_IP");
}

void AddRemoteOptions(CLI::App& app, Options& o) {
  app.add_option("--from", o.from, "the old server, user@host[:port] (env FROM)")->envname("FROM");
  app.add_option("--to", o.to_host, "the new server as you name it, user@host (env TO; informative: migrate runs here)")
      ->envname("TO");
  app.add_option("--key", o.ssh.key_file,
                 "the SSH private key (env KEY; passphrase from SSH_KEY_PASSPHRASE; default: ssh-agent, ~/.ssh/id_*)")
      ->envname("KEY");
  app.add_option("--known-hosts", o.ssh.known_hosts, "the known hosts file (default ~/.ssh/known_hosts)");
  app.add_flag("--accept-new-host-key", o.ssh.accept_new_host_key,
               "add the old server's host key to known_hosts when it is not there (a changed key is always refused)");
  app.add_flag("--sudo", o.sudo, "run the agent on the old server with sudo -n (data/ files only root may read)");
  // An old install deployed as a stack on a Swarm (docs/swarm.md).
  app.add_option("--node-map", o.node_map, "a stack on a Swarm: OLD=NEW, an old node onto a node of this Swarm (repeat it)")
      ->type_name("OLD=NEW");
  app.add_option("--node-map-file", o.node_map_file, "a stack on a Swarm: the node map (restore-node-map.json, filled in)")
      ->type_name("FILE");
  app.add_option("--node-user", o.node_user, "a stack on a Swarm: the nodes' SSH user")->capture_default_str();
  app.add_option("--nodes-file", o.nodes_file, "a stack on a Swarm: per-node user, address, port, key (YAML)")
      ->type_name("FILE");
  app.add_option("--resolve-image", o.resolve_image, "a stack on a Swarm: docker stack deploy's --resolve-image")
      ->check(CLI::IsMember({"always", "changed", "never"}));
}

void ApplyEnvironment(Options& o, const compose::Env& env, bool to_path_given, bool dry_run_given) {
  auto get = [&](const char* k) {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  if (o.from_path.empty()) o.from_path = get("FROM_PATH");
  if (!to_path_given && o.to_path.empty()) o.to_path = get("TO_PATH");
  if (o.to_path.empty()) o.to_path = std::filesystem::current_path().string();
  if (o.temp_dir.empty()) o.temp_dir = get("TO_PATH_TEMP");
  if (!dry_run_given && !get("DRY_RUN").empty()) o.dry_run = Truthy(get("DRY_RUN"));
  if (o.from_path.empty())
    BadUsage("no source install given: use --from-path OLD (or FROM_PATH=OLD)");
  if (o.skip_db && o.skip_data) BadUsage("--skip-db and --skip-data together leave nothing to migrate");
  if (o.wait_seconds <= 0) BadUsage("--wait must be a positive number of seconds");
  ResolveDnsHook(o.dns_hook, env, !o.from.empty());
}

void AddDnsHookOptions(CLI::App& app, DnsHook& h, const std::string& when, const std::string& old_ip) {
  app.add_option("--dns-hook", h.command,
                 when + ", run CMD (by /bin/sh) with DNS_NAME, NEW_IP, OLD_IP in its environment, e.g. "
                 "'migrate dns update --name \"$DNS_NAME\" --to \"$NEW_IP\" ...'");
  app.add_option("--dns-name", h.dns_name, "--dns-hook's DNS_NAME (env DNS_NAME; default empty)");
  app.add_option("--new-ip", h.new_ip, "--dns-hook's NEW_IP (env NEW_IP; default: this host's address)");
  app.add_option("--old-ip", h.old_ip, "--dns-hook's OLD_IP (env OLD_IP; " + old_ip + ")");
}

void ResolveDnsHook(DnsHook& h, const compose::Env& env, bool remote) {
  auto get = [&](const char* k) {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  if (h.command.empty()) {
    if (!h.dns_name.empty() || !h.new_ip.empty() || !h.old_ip.empty())
      BadUsage("--dns-name, --new-ip and --old-ip are for --dns-hook CMD: give the hook too");
    return;
  }
  if (h.dns_name.empty()) h.dns_name = get("DNS_NAME");
  if (h.new_ip.empty()) h.new_ip = get("NEW_IP");
  if (h.old_ip.empty()) h.old_ip = get("OLD_IP");
  if (h.new_ip.empty()) h.new_ip = HostAddress();
  if (h.new_ip.empty()) BadUsage("this host has no IPv4 address besides loopback: give --dns-hook's --new-ip IP");
  // On this host; a remote migration's OLD_IP is the old server's address, known once
  // connected (the pipeline fills it in).
  if (h.old_ip.empty() && !remote) h.old_ip = h.new_ip;
  for (const auto* ip : {&h.new_ip, &h.old_ip})
    if (!ip->empty() && !dns::IsIPv4(*ip)) BadUsage("'" + *ip + "' is not an IPv4 address (--new-ip, --old-ip)");
}

}  // namespace mig
