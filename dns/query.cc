// Asking an authoritative server for a name's A records with dig(1) (Debian's bind9-dnsutils).
#include <algorithm>
#include <sstream>

#include "core/error.h"
#include "core/process.h"
#include "dns/dns.h"
#include "dns/provider.h"

namespace mig::dns {

std::pair<std::string, std::string> SplitServer(const std::string& server) {
  auto colon = server.rfind(':');
  if (colon == std::string::npos || server.find(':') != colon) return {server, "53"};
  return {server.substr(0, colon), server.substr(colon + 1)};
}

ARecords QueryA(const std::string& server, const std::string& name) {
  auto [host, port] = SplitServer(server);
  ProcResult r = RunCapture({"dig", "+noall", "+answer", "+time=2", "+tries=2", "-p", port, "@" + host, name, "A"},
                            {}, kToolTimeout);
  if (!r.ok()) Fail("the DNS server " + server + " does not answer for " + name + ": " + r.last_error_line());
  // Answer lines: "www.example.org. 300 IN A 192.0.2.10" (CNAMEs on the way are skipped).
  ARecords rec;
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string owner, cls, type, data;
    int ttl = 0;
    if (!(f >> owner >> ttl >> cls >> type >> data) || type != "A" || !IsIPv4(data)) continue;
    rec.addresses.push_back(data);
    rec.ttl = ttl;
  }
  std::sort(rec.addresses.begin(), rec.addresses.end());
  return rec;
}

}  // namespace mig::dns
