// `migrate backup export`: one backup of the repository as one portable file (backup/archive.h).
#pragma once

#include <string>

#include "backup/catalog.h"

namespace mig::backup {

// Writes backup `e` (ready, manifest `m`) to `output`. Its files are restored by restic into a
// folder beside `output` first (the room of one more copy of data/ there, for the time of the
// export), then archived with the dump read from the repository. Returns the file's size.
uint64_t ExportBackup(const restic::Restic& repo, const Entry& e, const Manifest& m, const std::string& output);

}  // namespace mig::backup
