// What a resumable run has finished, kept in <run folder>/state.json (docs/migrate-local.md).
#pragma once

#include <string>

namespace mig {

// The safety copy's progress, saved after each part is durable.
struct RunState {
  bool backup_done = false;  // data.backup/ is complete
  bool dump_done = false;    // target-db.dump is complete

  // Reads `path`. Absent: nothing done (a new run). Throws mig::Error (failed) with a sentence
  // when the file exists but cannot be read or is not a state file of ours: a resumed run must
  // never guess what its safety copy holds.
  static RunState Load(const std::string& path);
  // Writes `path` atomically and durably (core/files.h).
  void Save(const std::string& path) const;
};

}  // namespace mig
