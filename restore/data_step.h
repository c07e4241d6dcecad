// The data/ part of a restore: the backup's tree staged beside data/, the kept paths linked in,
// then exchanged with data/ in one rename; when data/ is a file system of its own (a disk
// mounted on it), staged in a hidden folder inside it and exchanged entry by entry.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "install/install.h"

namespace mig {

struct StagedData {
  std::string data_dir;   // the install's data/
  std::string stage;      // where the backup's data/ was restored (same file system)
  uint64_t kept = 0;      // entries linked in from the current data/
  bool in_place = false;  // data/ is a mount point: swapped entry by entry, not as one folder
};

// data/ is a folder (not a link) that is the root of a mount: a disk, or a bind mount of a
// folder of the same disk (rename refuses both). statx says so where the kernel knows (5.8 and
// later); else another device than its parent's.
bool DataIsMountPoint(const std::string& data_dir);

// Where a restore stages the backup's data/: `default_work` (in the restore's folder, beside
// data/), or data_dir/.migrate-restore when data/ is a file system of its own (a mount point):
// the staged tree must be on data/'s file system to be put in place by renames.
std::string StageWorkDir(const std::string& data_dir, const std::string& default_work);

// Has `fill` write the backup's data/ as `work_dir`/data without the `keep` paths (work_dir,
// from StageWorkDir, emptied first; on the file system of data_dir, checked), then hard-links
// the current `keep` paths (data/-relative) into it and syncs it. data/'s own entries are not
// changed. Throws mig::Error naming what failed.
StagedData StageData(const std::function<void(const std::string& work_dir)>& fill, const std::string& data_dir,
                     const std::string& work_dir, const std::vector<std::string>& keep);

// Puts the staged tree in place of data/ in one step (renameat2 RENAME_EXCHANGE; a plain rename
// when there was no data/), then removes the tree it replaced (hard links of the safety copy).
// In place (data/ a mount point): each top-level entry exchanged or moved on its own, the
// staged folder's mode, owner and times given to data/, then the replaced entries removed; a
// crash in between leaves a mix that the next restore (it resumes) replaces again.
void SwapData(const StagedData& s);

}  // namespace mig
