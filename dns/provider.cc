// The table of DNS backends and what they share.
#include "dns/provider.h"

#include <arpa/inet.h>

#include <algorithm>

#include "core/error.h"

namespace mig::dns {

namespace {

// One backend: the name --provider takes and how it is opened.
struct Backend {
  const char* name;
  ProviderFactory open;
};

// Adding a backend: its file in dns/, its Open function in provider.h, one line here.
constexpr Backend kBackends[] = {
    {"rfc2136", OpenRfc2136},
    {"route53", OpenRoute53},
    {"cloudflare", OpenCloudflare},
    {"command", OpenCommand},
};

// A backend a test added (ScopedProvider), looked up before the table.
std::string g_extra_name;
ProviderFactory g_extra_open = nullptr;

}  // namespace

ScopedProvider::ScopedProvider(std::string name, ProviderFactory open) {
  g_extra_name = std::move(name);
  g_extra_open = open;
}

ScopedProvider::~ScopedProvider() {
  g_extra_name.clear();
  g_extra_open = nullptr;
}

std::string ARecords::Joined() const {
  if (addresses.empty()) return "nothing";
  std::string s;
  for (const auto& a : addresses) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::string ProviderNames() {
  std::string s;
  for (const auto& b : kBackends) s += (s.empty() ? "" : ", ") + std::string(b.name);
  return s;
}

std::unique_ptr<Provider> OpenProvider(const Update& u) {
  if (g_extra_open && u.provider == g_extra_name) return g_extra_open(u);
  for (const auto& b : kBackends)
    if (u.provider == b.name) return b.open(u);
  BadUsage("unknown DNS provider '" + u.provider + "': use --provider with one of " + ProviderNames());
}

bool IsIPv4(const std::string& s) {
  struct in_addr a;
  return ::inet_pton(AF_INET, s.c_str(), &a) == 1;
}

std::string CanonicalName(const std::string& name) {
  std::string s = name;
  while (!s.empty() && s.back() == '.') s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> ZoneCandidates(const std::string& name, const std::string& zone) {
  if (!zone.empty()) return {CanonicalName(zone)};
  std::string n = CanonicalName(name);
  std::vector<std::string> out;
  // Down to two labels: a top-level domain is nobody's zone to change.
  while (std::count(n.begin(), n.end(), '.') >= 1) {
    out.push_back(n);
    n = n.substr(n.find('.') + 1);
  }
  if (out.empty()) BadUsage("cannot tell the zone of '" + name + "': give --zone");
  return out;
}

}  // namespace mig::dns
