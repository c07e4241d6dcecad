#include "migrate/dns_cmd.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/process.h"

namespace mig {

namespace {

// The flags both subcommands share: which record, through which provider, how to reach it.
void TargetOptions(CLI::App* c, dns::Update& u) {
  c->add_option("--name", u.name, "the DNS name, e.g. www.example.org")->required();
  c->add_option("--provider", u.provider, dns::ProviderNames() + " (default rfc2136, or the recorded one for --rollback)");
  c->add_option("--zone", u.zone, "the zone (default: rfc2136 NAME without its first label; APIs: looked up)");
  c->add_option("--ttl", u.ttl, "the TTL in seconds (update: 300; lower-ttl: 60; rollback: the old TTL)");
  c->add_option("--wait", u.wait_seconds, "seconds to wait until the provider answers the change")->capture_default_str();
  c->add_option("--server", u.server,
                "rfc2136: the authoritative server HOST[:PORT]; command: the server to check the change against");
  c->add_option("--tsig-key", u.tsig_key, "rfc2136: the TSIG key file (tsig-keygen's format)");
  c->add_option("--hosted-zone-id", u.hosted_zone_id, "route53: the hosted zone (default: looked up by name)");
  c->add_option("--endpoint-url", u.endpoint_url,
                "route53: the API endpoint (env AWS_ENDPOINT_URL_ROUTE53, AWS_ENDPOINT_URL)");
  c->add_option("--command", u.command, "command: run by /bin/sh with DNS_NAME, NEW_IP, OLD_IP, TTL in its environment");
  c->add_option("--old-ip", u.old_ip, "command: the address the name has now (passed on as OLD_IP)");
}

int RunUpdate(const DnsCommands& d) {
  const dns::Update& u = d.u;
  dns::CutoverResult r = d.rollback ? dns::Rollback(u) : dns::Apply(u);
  const std::string verb = d.rollback ? " points back at " : " now answers ";
  if (r.verified)
    std::cout << u.name << verb << r.address << " at " << r.where << " (it answered " << r.before.Joined() << ")\n";
  else
    std::cout << r.where << " set " << u.name << " to " << r.address << " (it had " << r.before.Joined()
              << "; not read back: give --server to check against the authoritative server)\n";
  std::cout << "recorded in " << r.state_path << "\n";
  if (!d.rollback && r.before.addresses.size() == 1) {
    std::vector<std::string> argv = {"migrate", "dns", "update", "--name", u.name, "--rollback"};
    if (!u.state_dir.empty()) argv.insert(argv.end(), {"--state-dir", u.state_dir});
    std::cout << "roll back with: " << CommandLine(argv) << "\n";
  }
  return 0;
}

int RunLowerTtl(const DnsCommands& d) {
  dns::CutoverResult r = dns::LowerTtl(d.l);
  std::cout << d.l.name << " (" << r.before.Joined() << ") now has a TTL of " << r.ttl << " s at "
            << r.where;
  if (r.before.ttl) std::cout << " (it was " << r.before.ttl << " s)";
  std::cout << "; wait the old TTL out before the cutover\n";
  return 0;
}

}  // namespace

void AddDnsCommands(CLI::App& app, DnsCommands& d) {
  CLI::App* dns = app.add_subcommand("dns", "the DNS cutover (see scripts/update-dns.sh and docs/dns.md)");
  dns->require_subcommand(1);
  d.update = dns->add_subcommand(
      "update", "point NAME's A record at the new server and read it back; --rollback points it back");
  TargetOptions(d.update, d.u);
  d.update->add_option("--to", d.u.address, "the new server's IPv4 address");
  d.update->add_flag("--rollback", d.rollback,
                     "point NAME back at the address it had before its last update (recorded by that update)");
  d.update->add_option("--state-dir", d.u.state_dir,
                       "where updates are recorded for --rollback (env MIGRATE_STATE_DIR; default "
                       "$XDG_STATE_HOME/migrate or ~/.local/state/migrate)");
  d.lower_ttl = dns->add_subcommand(
      "lower-ttl", "shorten the TTL of NAME's A records ahead of the cutover (addresses kept)");
  TargetOptions(d.lower_ttl, d.l);
}

bool DnsChosen(const DnsCommands& d) { return (d.update && *d.update) || (d.lower_ttl && *d.lower_ttl); }

int RunDns(const DnsCommands& d) { return *d.update ? RunUpdate(d) : RunLowerTtl(d); }

}  // namespace mig
