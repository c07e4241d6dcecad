// What a resumable run has finished, kept in <run folder>/state.json (docs/migrate-local.md).
#pragma once

#include <string>

namespace mig {

// The safety copy's progress, saved after each part is durable.
struct RunState {
  bool backup_done = false;  // data.backup/ is complete
  bool dump_done = false;    // target-db.dump is complete
  // --two-phase: when its downtime began (the old services' stop; UTC, and seconds since the
  // epoch): a run resumed after a crash in phase 2 counts its downtime from the first attempt's.
  std::string downtime_began;
  double downtime_began_epoch = 0;
  // --two-phase: the new database is the old one's (promoted or replayed): a resumed run never
  // copies it again (the new release may have written since), it only finishes.
  bool cutover_done = false;

  // Reads `path`. Absent: nothing done (a new run). Throws mig::Error (failed) with a sentence
  // when the file exists but cannot be read or is not a state file of ours: a resumed run must
  // never guess what its safety copy holds.
  static RunState Load(const std::string& path);
  // Writes `path` atomically and durably (core/files.h).
  void Save(const std::string& path) const;
};

}  // namespace mig
