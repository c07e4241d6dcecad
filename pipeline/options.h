// What a migration run is told: plain values, filled by migrate/options.cc from flags and
// the environment.
#pragma once

#include <string>
#include <vector>

#include "db/physical.h"
#include "pipeline/dns_hook.h"
#include "ssh/session.h"

namespace mig {

// Everything a migration run is told. Flags win over the environment.
struct Options {
  std::string from_path, to_path, temp_dir;
  std::string from_project, to_project;
  std::string db_service = "postgres";
  bool dry_run = false, yes = false, json = false, quiet = false;
  bool checksum = false, skip_db = false, skip_data = false, stop_old = false, no_restart = false;
  int wait_seconds = 180;
  db::DbMethod db_method = db::DbMethod::kLogical;  // --db-method (docs/physical-db.md)
  bool db_method_given = false;  // --db-method was given (--two-phase without it: physical when it can be)
  bool two_phase = false;  // --two-phase (docs/cutover.md): copy while the old release serves, then cut over
  bool show_plan = false;  // --dry-run --list: every path, not only totals
  // The remote migration (migrate --from): the old server and how to reach it.
  std::string from;     // user@host[:port] (env FROM); empty: the old install is on this server
  std::string to_host;  // env TO: the new server as the operator names it (informative)
  ssh::Options ssh;     // --key (env KEY), --known-hosts, --accept-new-host-key
  bool sudo = false;    // run the agent with sudo -n
  DnsHook dns_hook;        // --dns-hook and the values it gets
  // An old install deployed as a stack on a Swarm (docs/swarm.md "migrate --from of a stack"):
  // the node map and how the old and new nodes are reached (--key and --known-hosts: `ssh`).
  std::vector<std::string> node_map;
  std::string node_map_file, node_user = "root", nodes_file, resolve_image;
};

}  // namespace mig
