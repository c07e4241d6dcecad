// The DNS cutover: point a name at the new server and check that it answers so.
#pragma once

#include <string>

namespace mig::dns {

// One A record change (issue 6). Providers: "rfc2136" now (nsupdate with a TSIG key);
// Route 53, Cloudflare and a generic command are to come.
struct Update {
  std::string provider = "rfc2136";
  std::string name;        // www.example.org
  std::string address;     // the new IPv4 address
  std::string server;      // the authoritative server, HOST[:PORT]
  std::string tsig_key;    // key file as tsig-keygen writes it
  std::string zone;        // default: the name without its first label
  int ttl = 300;
  int wait_seconds = 60;   // how long to wait for the server to answer the new address
};

// The A records the server answers for `name` ("" when none). Throws mig::Error when the
// server does not answer.
std::string QueryA(const std::string& server, const std::string& name);

// Replaces the A records of u.name by u.address, then queries the server until it answers
// the new address (u.wait_seconds at most). Returns the address it had before ("" if none).
// Throws mig::Error with the server's reason (a wrong key, a refused zone...).
std::string Apply(const Update& u);

// Sets the TTL of u.name's A records to u.ttl, keeping their addresses (ahead of a cutover, so
// that resolvers forget the old address quickly). Returns the addresses kept.
std::string LowerTtl(const Update& u);

// "host:port" -> {host, port} (port 53 when absent).
std::pair<std::string, std::string> SplitServer(const std::string& server);

}  // namespace mig::dns
