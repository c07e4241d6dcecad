// `migrate backup create`: one backup of an install (docs/backup.md "backup create: steps").
#pragma once

#include <string>

#include "backup/catalog.h"
#include "backup/manifest.h"
#include "core/progress.h"
#include "install/install.h"
#include "origin/node_access.h"
#include "restic/restic.h"

namespace mig::backup {

struct CreateOptions {
  std::string name;
  bool suspend = false;  // stop the services other than the database for the snapshot
  int wait_seconds = 180;
  ProgressMode progress = ProgressMode::kHuman;
  NodeDefaults nodes;  // a stack on a Swarm: how its nodes are reached over SSH
};

// The install's top-level files kept as its configuration (VERSION, the compose file, .env,
// custom.env, a legacy install's other root files), sorted; never an exported backup.tar.
std::vector<std::string> ConfigFiles(const std::string& dir);

// Makes one backup of `in` in the repository (made when it has none) and returns its manifest,
// status ready. A failure once the backup has its id writes a manifest of its own, status
// failed with the reason (when the repository takes it), restarts what --suspend stopped, and
// throws mig::Error naming the first failure; an interrupted one (SIGTERM, SIGINT) writes none.
Manifest CreateBackup(const Install& in, const restic::Restic& repo, const CreateOptions& o);

}  // namespace mig::backup
