// --dns-hook: an operator's command run after a successful migration to point DNS at the new
// server, with DNS_NAME, NEW_IP and OLD_IP in its environment (docs/dns.md). Shared by every
// pipeline: each calls DnsHookStep() once its migration has succeeded.
#pragma once

#include <chrono>
#include <string>

#include "pipeline/report.h"

namespace mig {

// How long a hook may run (it may wait for a DNS provider itself).
constexpr std::chrono::seconds kDnsHookTimeout(600);

// The report step's name.
inline constexpr const char* kDnsHookStep = "dns hook";

// The hook and the values it gets in its environment.
struct DnsHook {
  std::string command;   // run by /bin/sh -c; empty: no hook
  std::string dns_name;  // DNS_NAME
  std::string new_ip;    // NEW_IP
  std::string old_ip;    // OLD_IP
};

// How a hook run ended.
struct DnsHookResult {
  bool ok = false;
  int exit_code = -1;    // -1: it did not start or was stopped at the time limit
  std::string detail;    // one line: "exit 0" or "exit 3: the last lines of its stderr"
  std::string output;    // everything it printed (stdout, then stderr)
};

// Runs the hook. A hook that fails, cannot start or runs past `timeout` gives a result with
// ok false; this throws nothing.
DnsHookResult RunDnsHook(const DnsHook& h, std::chrono::seconds timeout = kDnsHookTimeout);

// Runs the hook as the report step "dns hook" (no step without a hook; in a dry run a skipped
// step names what it would run) and records it in r.dns_hook. A failure is recorded with the command to
// run it again by hand in r.next_steps. Returns false when the hook failed.
bool DnsHookStep(Report& r, const DnsHook& h, bool dry_run);

// Throws mig::Error (failed, exit 1) when the report's dns hook step failed, saying that the
// migration itself succeeded. Called after the summary is printed.
void FailIfDnsHookFailed(const Report& r);

// The command that runs the hook again by hand: "DNS_NAME=... NEW_IP=... OLD_IP=... sh -c '...'".
std::string DnsHookCommandLine(const DnsHook& h);

// This host's IPv4 address on its default route (else its first non-loopback one; "" when none):
// NEW_IP's default.
std::string HostAddress();

}  // namespace mig
