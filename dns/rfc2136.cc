// RFC 2136 dynamic update through nsupdate(1), checked with dig(1) (Debian's bind9-dnsutils).
#include <arpa/inet.h>

#include <chrono>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/process.h"
#include "dns/dns.h"

namespace mig::dns {

namespace {

constexpr std::chrono::seconds kToolTimeout(30);

bool IsIPv4(const std::string& s) {
  struct in_addr a;
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

}  // namespace

std::pair<std::string, std::string> SplitServer(const std::string& server) {
  auto colon = server.rfind(':');
  if (colon == std::string::npos || server.find(':') != colon) return {server, "53"};
  return {server.substr(0, colon), server.substr(colon + 1)};
}

namespace {

void CheckCommon(const Update& u) {
  if (u.provider != "rfc2136")
    BadUsage("DNS provider '" + u.provider + "' is not available yet: use --provider rfc2136");
  if (u.name.empty()) BadUsage("give the name: --name NAME");
  if (u.server.empty()) BadUsage("rfc2136 needs the authoritative server: --server HOST[:PORT]");
  if (u.tsig_key.empty()) BadUsage("rfc2136 needs a TSIG key file: --tsig-key FILE (as tsig-keygen writes it)");
  if (u.ttl <= 0) BadUsage("--ttl must be a positive number of seconds");
}

std::string ZoneOf(const Update& u) {
  if (!u.zone.empty()) return u.zone;
  auto dot = u.name.find('.');
  if (dot == std::string::npos) BadUsage("cannot tell the zone of '" + u.name + "': give --zone");
  return u.name.substr(dot + 1);
}

// Sends `updates` (nsupdate "update ..." lines) to the server in one transaction; explains
// a refusal.
void Send(const Update& u, const std::string& zone, const std::string& updates) {
  auto [host, port] = SplitServer(u.server);
  std::string script = "server " + host + " " + port + "\nzone " + zone + "\n" + updates + "send\n";
  ProcResult r = RunCapture({"nsupdate", "-k", u.tsig_key}, script, kToolTimeout);
  if (r.ok()) return;
  std::string why = r.last_error_line();
  std::string all = r.err + r.out;
  if (all.find("BADSIG") != std::string::npos || all.find("BADKEY") != std::string::npos)
    Fail("the DNS server " + u.server + " refused the update of " + u.name + ": the TSIG key is wrong (" + why +
         "); check --tsig-key " + u.tsig_key);
  if (all.find("REFUSED") != std::string::npos || all.find("NOTAUTH") != std::string::npos)
    Fail("the DNS server " + u.server + " refused the update of " + u.name + " in zone " + zone + " (" + why +
         "): is it authoritative for the zone, and does it allow this key to update it?");
  Fail("nsupdate could not update " + u.name + " at " + u.server + ": " + why);
}

}  // namespace

std::string QueryA(const std::string& server, const std::string& name) {
  auto [host, port] = SplitServer(server);
  ProcResult r = RunCapture({"dig", "+short", "+time=2", "+tries=2", "-p", port, "@" + host, name, "A"}, {}, kToolTimeout);
  if (!r.ok()) Fail("the DNS server " + server + " does not answer for " + name + ": " + r.last_error_line());
  std::istringstream in(r.out);
  std::string line, all;
  while (std::getline(in, line))
    if (IsIPv4(line)) all += (all.empty() ? "" : " ") + line;
  return all;
}

std::string Apply(const Update& u) {
  CheckCommon(u);
  if (u.address.empty()) BadUsage("give the new address: --to IP");
  if (!IsIPv4(u.address)) BadUsage("'" + u.address + "' is not an IPv4 address");
  const std::string zone = ZoneOf(u);
  const std::string before = QueryA(u.server, u.name);
  std::ostringstream script;
  script << "update delete " << u.name << " A\n"
         << "update add " << u.name << " " << u.ttl << " A " << u.address << "\n";
  Send(u, zone, script.str());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(u.wait_seconds);
  for (;;) {
    std::string now = QueryA(u.server, u.name);
    if (now == u.address) return before;
    if (std::chrono::steady_clock::now() > deadline)
      Fail("the DNS server " + u.server + " accepted the update but still answers " + (now.empty() ? "nothing" : now) +
           " for " + u.name + " after " + std::to_string(u.wait_seconds) + " s");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::string LowerTtl(const Update& u) {
  CheckCommon(u);
  const std::string zone = ZoneOf(u);
  const std::string now = QueryA(u.server, u.name);
  if (now.empty()) Fail("the DNS server " + u.server + " has no A record for " + u.name + ": nothing to lower");
  std::string updates = "update delete " + u.name + " A\n";
  std::istringstream in(now);
  std::string addr;
  while (in >> addr) updates += "update add " + u.name + " " + std::to_string(u.ttl) + " A " + addr + "\n";
  Send(u, zone, updates);
  return now;
}

}  // namespace mig::dns
