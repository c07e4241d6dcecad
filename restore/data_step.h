// The data/ part of a restore: the backup's tree staged beside data/, the kept paths linked in,
// then exchanged with data/ in one rename.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>


namespace mig {

struct StagedData {
  std::string data_dir;  // the install's data/
  std::string stage;     // where the backup's data/ was restored (same file system)
  uint64_t kept = 0;     // entries linked in from the current data/
};

// Has `fill` write the backup's data/ as `work_dir`/data without the `keep` paths (work_dir
// emptied first; on the file system of data_dir, checked), then hard-links the current `keep`
// paths (data/-relative) into it and syncs it. data/ itself is not changed. Throws mig::Error
// naming what failed.
StagedData StageData(const std::function<void(const std::string& work_dir)>& fill, const std::string& data_dir,
                     const std::string& work_dir, const std::vector<std::string>& keep);

// Puts the staged tree in place of data/ in one step (renameat2 RENAME_EXCHANGE; a plain rename
// when there was no data/), then removes the tree it replaced (hard links of the safety copy).
void SwapData(const StagedData& s);

}  // namespace mig
