// A files snapshot read from the repository as a stream, for the export (backup/export.cc):
// `restic dump SNAP /` (a tar of the tree) read in step with `restic ls --json SNAP` (the same
// walk, in the same order), which carries what restic 0.14's dump loses: times to the
// nanosecond, and the fifos it leaves out. Nothing is written to disk; memory is one entry.
#pragma once

#include <memory>
#include <string>

#include "backup/archive.h"
#include "core/archive_feed.h"
#include "core/process.h"
#include "restic/restic.h"

namespace mig::backup {

class SnapshotFiles : public FilesReader {
 public:
  // `dump` and `ls`: the two programs' output (owned by the caller, who outlives this). `repo`
  // and `what` ("snapshot 1ca1be2c") name them in errors.
  SnapshotFiles(Proc& dump, Proc& ls, restic::Repo repo, std::string what);
  SnapshotFiles(const SnapshotFiles&) = delete;
  SnapshotFiles& operator=(const SnapshotFiles&) = delete;

  // Throws mig::Error when the listing and the dump disagree (an entry in one and not the
  // other, another type or size), when either is not restic's output, or when restic failed
  // (its sentence: restic::Throw). Returns false once both ended well.
  bool Next(struct archive_entry* e) override;
  size_t Read(char* buf, size_t len) override;

 private:
  // The dump's next header, read ahead (null at its end).
  struct archive_entry* Peek();
  // Both programs waited for; restic's failure thrown.
  void EndOfBoth();
  [[noreturn]] void Broken(const std::string& why);
  Proc& dump_;
  Proc& ls_;
  restic::Repo repo_;
  std::string what_;
  ArchiveFeed feed_;
  std::unique_ptr<struct archive, int (*)(struct archive*)> a_;
  struct archive_entry* ahead_ = nullptr;  // the dump's header not yet taken
  bool dump_ended_ = false, reading_ = false;
};

}  // namespace mig::backup
