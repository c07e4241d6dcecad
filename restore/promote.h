// `migrate standby promote` (docs/daemon.md "Standby"): a standby install made the primary:
// recorded as promoted first (no standby restore replaces it afterwards), its services started,
// the DNS hook run as a migration runs it.
#pragma once

#include <string>

#include "pipeline/dns_hook.h"
#include "pipeline/report.h"

namespace mig {

struct PromoteOptions {
  std::string to_path;  // the standby install ("" = the current folder)
  std::string project, db_service = "postgres";
  DnsHook dns_hook;
  bool dry_run = false, yes = false;
  int wait_seconds = 180;
};

// Promotes; returns the report (also written to backup/promote-report.json unless a dry run).
// Throws mig::Error (bad input) when the folder is no standby, (failed) when it was promoted
// already or a step failed: the report says what was done and what is left.
Report RunPromote(const PromoteOptions& o);

}  // namespace mig
