// Carrying out a merge plan on a local target folder.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sync/plan.h"
#include "sync/source.h"

namespace mig::sync {

// What a merge did, for the report and the progress display.
struct ApplyStats {
  uint64_t files_written = 0;    // regular files created or replaced
  uint64_t bytes_written = 0;
  uint64_t hashes_checked = 0;   // written files whose content was read back and matched
  uint64_t attrs_updated = 0;
  uint64_t dirs_created = 0;
  uint64_t links_written = 0;    // symlinks created or replaced
  uint64_t specials_written = 0; // devices, fifos, sockets
  uint64_t removed = 0;          // target entries removed because the source has another type
  uint64_t stale_temps_removed = 0;
  uint64_t syncs = 0;            // syncfs calls (one per batch)
  uint64_t changed_during_copy = 0;
  uint64_t vanished = 0;         // source files deleted since the listing (not copied)
  uint64_t skipped_devices = 0;  // devices the merge could not create (not root)
  uint64_t items_done = 0;
  uint64_t source_bytes_done = 0;  // sizes of the source files handled (copied, compared or skipped)
};

struct ApplyOptions {
  bool set_owner = false;               // chown to the source's uid/gid (root only)
  size_t batch_files = 1000;            // files made durable by one syncfs
  uint64_t batch_bytes = 256ull << 20;
  std::function<void(const ApplyStats&)> progress;  // called after each item
};

struct MergeOptions {
  bool checksum = false;  // contents instead of size and time decide
  bool dry_run = false;   // plan only: nothing is written
  size_t chunk_items = 4096;
  ApplyOptions apply;
  std::function<void(const Plan& chunk)> on_chunk;  // each chunk as planned (--show-plan)
  // Only these paths (relative, '/'-separated; each with all it holds and its parents alone), as
  // rsync -a's --include=/P --include=/P/*** ... --exclude='*': the target's other entries are
  // never read (a legacy release's root paths merged into a release folder: docs/legacy.md).
  std::vector<std::string> only;
};

struct MergeResult {
  PlanTotals totals;
  std::vector<std::string> kept_sample;  // a few target-only paths
  ApplyStats stats;                      // empty in a dry run
};

// Merges `src` into the local folder `dst_root` (created when missing) as rsync -a --force
// would: owners compared and set when running as root; planned and applied a chunk at a time,
// so memory does not grow with the number of files (docs/streaming-merge.md). Every file is
// written under a temporary name, hashed back, made durable in batches and renamed; nothing is
// written through a symlink. Throws mig::Error on the first failure (what was renamed so far
// stays; no file stands half-written under its final name).
MergeResult Merge(Source& src, const std::string& dst_root, const MergeOptions& o);

// Applies a whole `plan` (one chunk) to `target_root`, as Merge does (tests).
ApplyStats Apply(const Plan& plan, Source& src, const std::string& target_root,
                 const ApplyOptions& opts);

// Makes `backup_root` (which must not exist) a copy of the tree `root` in which every regular
// file is a hard link to the original (a copy where linking is impossible, e.g. across file
// systems). Returns the number of entries.
uint64_t HardLinkSnapshot(const std::string& root, const std::string& backup_root);

}  // namespace mig::sync
