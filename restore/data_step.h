// The data/ part of a restore: the backup's tree staged beside data/ (restic restore, every file
// read back), the kept paths linked in, then exchanged with data/ in one rename.
#pragma once

#include <string>
#include <vector>

#include "restic/restic.h"

namespace mig {

struct StagedData {
  std::string data_dir;  // the install's data/
  std::string stage;     // where the backup's data/ was restored (same file system)
  uint64_t kept = 0;     // entries linked in from the current data/
};

// Restores `snapshot`'s /data into `work_dir`/data (work_dir emptied first; on the file system
// of data_dir, checked), then hard-links the current `keep` paths (data/-relative) into it.
// `others`: the snapshot's other top-level names (the configuration files), not restored.
// data/ itself is not changed. Throws mig::Error naming what failed.
StagedData StageData(const restic::Restic& repo, const std::string& snapshot, const std::string& data_dir,
                     const std::string& work_dir, const std::vector<std::string>& keep,
                     const std::vector<std::string>& others);

// Puts the staged tree in place of data/ in one step (renameat2 RENAME_EXCHANGE; a plain rename
// when there was no data/), then removes the tree it replaced (hard links of the safety copy).
void SwapData(const StagedData& s);

}  // namespace mig
