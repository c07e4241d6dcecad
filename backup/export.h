// `migrate backup export`: one backup of the repository as one portable file (backup/archive.h).
#pragma once

#include <string>

#include "backup/archive.h"
#include "backup/catalog.h"

namespace mig::backup {

// Writes backup `e` (ready, manifest `m`) to `output`, streamed from the repository: its files
// (SnapshotFiles), its dump, a Swarm backup's volumes. Nothing but the file is written to disk.
// Returns the file's size.
uint64_t ExportBackup(const restic::Restic& repo, const Entry& e, const Manifest& m, const std::string& output,
                      const WriteProgress& progress = {});

}  // namespace mig::backup
