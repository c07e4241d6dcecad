// `migrate restore`: an install's data/ and database made a backup's (docs/backup.md "Restore:
// steps"), with the safety copy and rollback of a migration.
#pragma once

#include <string>
#include <vector>

#include "origin/node_access.h"
#include "pipeline/report.h"
#include "restic/restic.h"

namespace mig {

struct RestoreOptions {
  std::string which;       // ID | TIMESTAMP | latest | an exported file (backup.tar)
  std::string to_path;     // the install ("" = the current folder)
  std::string project, db_service = "postgres";
  std::vector<std::string> skip;  // compose services whose state stays as it is
  bool skip_data = false, skip_db = false, with_config = false;
  bool dry_run = false, yes = false, no_restart = false, json = false, quiet = false;
  // Keeps a standby (docs/daemon.md "Standby"): refused once the install was promoted; only the
  // database is started afterwards; the backup is recorded in backup/standby.json; the restore
  // folders of earlier standby restores are removed.
  bool standby = false;
  int wait_seconds = 180;
  // A Swarm backup (docs/swarm.md "Restore onto nodes"): the node map (--node-map OLD=NEW,
  // --node-map-file), how the nodes are reached over SSH, docker stack deploy's --resolve-image.
  std::vector<std::string> node_map;
  std::string node_map_file;
  NodeDefaults nodes;
  std::string resolve_image;
  // `migrate --from` of a stack (its source a live old Swarm): its run folder is
  // migration/<timestamp>, and the old release differs from the new one by design.
  bool migration = false;
};

// Restores; returns the report (written to restore/<timestamp>/report.json unless a dry run).
// Throws mig::Error after writing the report when a step failed: before the swaps nothing was
// changed; the report says how to roll back what was.
// `repo` is opened only when `o.which` names a backup of the repository, not a file.
Report RunRestore(const RestoreOptions& o, const restic::Repo& repo);

}  // namespace mig
