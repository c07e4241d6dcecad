#include "pipeline/dns_hook.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "core/process.h"

namespace mig {

DnsHookResult RunDnsHook(const DnsHook& h, std::chrono::seconds timeout) {
  DnsHookResult res;
  try {
    ProcResult r = RunCapture({"/bin/sh", "-c", h.command}, {}, timeout,
                              {{"DNS_NAME", h.dns_name}, {"NEW_IP", h.new_ip}, {"OLD_IP", h.old_ip}});
    res.exit_code = r.code;
    res.ok = r.ok();
    res.output = r.out + r.err;
    res.detail = "exit " + std::to_string(r.code);
    if (!r.ok()) res.detail += ": " + r.error_tail(3);
  } catch (const Error& e) {
    res.detail = e.what();
  }
  return res;
}

std::string DnsHookCommandLine(const DnsHook& h) {
  return CommandLine({"DNS_NAME=" + h.dns_name, "NEW_IP=" + h.new_ip, "OLD_IP=" + h.old_ip, "sh", "-c", h.command});
}

namespace {

// What succeeded before the hook ran: a migration, or a standby's promotion.
std::string Succeeded(const Report& r) {
  return r.command == "standby promote" ? "the promotion itself succeeded" : "the migration itself succeeded";
}

}  // namespace

bool DnsHookStep(Report& r, const DnsHook& h, bool dry_run) {
  if (h.command.empty()) return true;
  Step step(r, kDnsHookStep);
  r.dns_hook = {{"command", h.command}, {"dns_name", h.dns_name}, {"new_ip", h.new_ip}, {"old_ip", h.old_ip}};
  if (dry_run) {
    step.Skip("dry run: would run " + DnsHookCommandLine(h));
    return true;
  }
  TheLog().info("running the DNS hook: " + DnsHookCommandLine(h));
  DnsHookResult res = RunDnsHook(h);
  std::istringstream out(res.output);
  for (std::string line; std::getline(out, line);) TheLog().file_only("dns hook: " + line);
  r.dns_hook["exit_code"] = res.exit_code;
  r.dns_hook["ok"] = res.ok;
  if (res.ok) {
    step.Done(res.detail);
    return true;
  }
  step.Failed(res.detail);
  r.next_steps.push_back(Succeeded(r) + ", the DNS hook failed; run it again by hand: " +
                         DnsHookCommandLine(h));
  return false;
}

void FailIfDnsHookFailed(const Report& r) {
  for (const auto& s : r.steps)
    if (s.name == kDnsHookStep && s.status == "failed")
      Fail("the DNS hook failed (" + s.detail + "); " + Succeeded(r) + ": run the hook again by hand "
           "(see next steps)");
}

namespace {

// The interface of the default route, from /proc/net/route ("" when none).
std::string DefaultRouteInterface() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string iface, dest;
    if (f >> iface >> dest && dest == "00000000") return iface;
  }
  return "";
}

}  // namespace

std::string HostAddress() {
  const std::string route_if = DefaultRouteInterface();
  struct ifaddrs* all = nullptr;
  if (::getifaddrs(&all) != 0) return "";
  std::string first, on_route;
  for (struct ifaddrs* i = all; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
      continue;
    char buf[INET_ADDRSTRLEN];
    auto* sin = reinterpret_cast<struct sockaddr_in*>(i->ifa_addr);
    if (!::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf)) continue;
    if (on_route.empty() && route_if == i->ifa_name) on_route = buf;
    if (first.empty()) first = buf;
  }
  ::freeifaddrs(all);
  return on_route.empty() ? first : on_route;
}

}  // namespace mig
