// `migrate --from`: a compose install through the migration's pipeline, a stack on a Swarm
// through the steps of a restore onto a Swarm with the old Swarm as its source (docs/swarm.md
// "migrate --from of a stack").
#pragma once

#include "pipeline/options.h"
#include "pipeline/report.h"

namespace mig {

// Opens the old server once, asks its engine whether the old install is a stack on a Swarm it
// manages, and runs the migration that fits. Returns and throws as RunMigration does.
Report MigrateFrom(const Options& o);

}  // namespace mig
