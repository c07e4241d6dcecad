// `migrate restore` of a backup of a stack on a Swarm (docs/swarm.md "Restore onto nodes"): the
// backup's nodes mapped onto the target Swarm's, the compose file's constraints rewritten to
// them, each volume written on its new node over SSH, the database replayed into its service
// deployed alone, then the stack deployed and waited for.
#pragma once

#include <string>

#include "pipeline/report.h"
#include "restore/restore.h"
#include "restore/source.h"

namespace mig {

// REQUIRES source.manifest().swarm. `rep`: the report so far (the backup chosen); `dir`: the
// install folder (absolute); `fresh`: it holds no install yet (HoldsNoInstall). Returns and
// throws as RunRestore does; an incomplete node map writes `dir`/restore-node-map.json and
// throws mig::Error (input) naming it, nothing else changed.
Report RestoreOntoSwarm(const RestoreOptions& o, RestoreSource& source, const std::string& dir, bool fresh, Report rep);

}  // namespace mig
