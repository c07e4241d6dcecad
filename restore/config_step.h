// A restore's configuration: whether the folder holds an install yet, and the backup's
// configuration files written into it, with a copy of each file they replace.
#pragma once

#include <string>
#include <vector>

#include "restore/source.h"

namespace mig {

// A folder that holds no install yet: missing, empty, or holding only what an interrupted first
// restore into it left (backup/ with its job lock, restore/ with its run folder, the node map a
// Swarm restore wrote for the operator to fill in).
bool HoldsNoInstall(const std::string& dir);

// Copies `dir`/`file` into `run_dir`/config.backup/ before it is replaced; a resumed restore keeps
// the first copy (the install's own, not the backup's). Nothing to do when it does not exist.
void KeepConfigCopy(const std::string& dir, const std::string& run_dir, const std::string& file);

// Writes the backup's configuration into `dir`: every file when `fresh` (a folder without an
// install), else only .env and custom.env (--with-config); each file it replaces kept first.
// Returns the files written.
std::vector<std::string> RestoreConfig(RestoreSource& source, const std::string& dir, const std::string& run_dir,
                                       bool fresh);

}  // namespace mig
