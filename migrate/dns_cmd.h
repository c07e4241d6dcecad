// `migrate dns update|lower-ttl`: the DNS cutover's flags and what it prints (docs/dns.md).
#pragma once

#include "dns/dns.h"

namespace CLI {
class App;
}

namespace mig {

// The dns subcommands as declared on the command line, filled by parsing.
struct DnsCommands {
  CLI::App* update = nullptr;
  CLI::App* lower_ttl = nullptr;
  dns::Update u;        // update's flags
  dns::Update l;        // lower-ttl's flags
  bool rollback = false;
};

// Declares `dns update` and `dns lower-ttl` on `app`; `d` must outlive the parse.
void AddDnsCommands(CLI::App& app, DnsCommands& d);

// True when the parsed command line chose one of them.
bool DnsChosen(const DnsCommands& d);

// Runs the chosen one and prints its result; returns the exit code.
int RunDns(const DnsCommands& d);

}  // namespace mig
