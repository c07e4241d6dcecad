// The DNS cutover: point a name at the new server, check that it answers so, and point it back.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mig::dns {

// One A record change (docs/dns.md): the name, the provider holding it and how to reach it.
// Plain data, filled from flags; each provider reads the fields it needs.
struct Update {
  std::string provider;       // rfc2136, route53, cloudflare, command ("": rfc2136, or the recorded one)
  std::string name;           // www.example.org
  std::string address;        // the new IPv4 address
  int ttl = 0;                // seconds; 0: 300 for an update, 60 for lower-ttl, the old TTL for a rollback
  int wait_seconds = 60;      // how long to wait until the provider answers the new address
  std::string zone;           // default: the name without its first label (rfc2136), looked up (APIs)
  std::string server;         // rfc2136 (and the command provider's check): authoritative HOST[:PORT]
  std::string tsig_key;       // rfc2136: key file as tsig-keygen writes it
  std::string hosted_zone_id; // route53: default looked up by zone name
  std::string endpoint_url;   // route53: default env AWS_ENDPOINT_URL_ROUTE53, then AWS_ENDPOINT_URL
  std::string command;        // command: run by /bin/sh with DNS_NAME, NEW_IP, OLD_IP, TTL
  std::string old_ip;         // command: the address the name has now (it cannot be read back)
  std::string state_dir;      // where the last cutover of each name is recorded (StateDir())
};

// A name's A records as a provider holds them.
struct ARecords {
  std::vector<std::string> addresses;  // sorted; empty when the name has none
  int ttl = 0;                         // 0 when unknown
  std::string Joined() const;          // "192.0.2.1 192.0.2.2", "nothing" when empty
};

// What an update (or a rollback) did.
struct CutoverResult {
  std::string where;        // the provider and zone, for messages ("Route 53 zone Z1 (example.org)")
  std::string address;      // the address the name was pointed at (lower-ttl: empty)
  int ttl = 0;              // the TTL it was given
  ARecords before;          // what the name had (addresses empty: none, or unknown to the provider)
  bool verified = false;    // read back from the provider (false: the command provider without --server)
  std::string state_path;   // the file recording the cutover, for --rollback
};

// Replaces u.name's A records by u.address (u.ttl), records the addresses it had in the state
// file, then reads the record back until the provider answers the new address (u.wait_seconds).
// Throws mig::Error naming the provider's reason (a wrong key or token, an unknown zone...).
CutoverResult Apply(Update u);

// Points u.name back at the address recorded by its last Apply() (u.address must be empty).
// Provider settings left empty in `u` come from the record. Throws mig::Error when nothing is
// recorded or the name had no single address before.
CutoverResult Rollback(Update u);

// Sets the TTL of u.name's A records to u.ttl (default 60), keeping their addresses, ahead of a
// cutover. Returns where, and the records as they were (`before`, with the old TTL where the
// provider tells it).
CutoverResult LowerTtl(Update u);

// The names of the providers, for help texts: "rfc2136, route53, cloudflare, command".
std::string ProviderNames();

// The A records the authoritative server answers for `name`, asked with dig. Throws mig::Error
// when the server does not answer.
ARecords QueryA(const std::string& server, const std::string& name);

// "host:port" -> {host, port} (port 53 when absent).
std::pair<std::string, std::string> SplitServer(const std::string& server);

// True for a dotted-quad IPv4 address.
bool IsIPv4(const std::string& s);

// "WWW.Example.org." -> "www.example.org": names compared as DNS compares them.
std::string CanonicalName(const std::string& name);

}  // namespace mig::dns
