#include "backup/export.h"

#include <filesystem>

#include "backup/archive.h"
#include "backup/snapshot_files.h"
#include "core/error.h"

namespace fs = std::filesystem;

namespace mig::backup {

namespace {

// A program's whole stdout (restic dump of one file) through `out`; a failed run throws.
void Stream(Proc& proc, const Sink& out, const restic::Restic& repo, const std::string& what) {
  std::vector<char> buf(1 << 20);
  try {
    for (size_t n; (n = proc.read(buf.data(), buf.size())) > 0;) out(buf.data(), n);
  } catch (...) {
    proc.kill();
    proc.wait();
    throw;
  }
  if (proc.wait() != 0) restic::Throw(restic::Diagnose(proc.err_text()), repo.repo(), what);
}

}  // namespace

uint64_t ExportBackup(const restic::Restic& repo, const Entry& e, const Manifest& m, const std::string& output,
                      const WriteProgress& progress) {
  if (e.status != "ready") BadInput("backup " + e.timestamp + " is " + e.status + ": only a ready backup is exported");
  const std::string out = fs::absolute(output).string();
  // The files stream from the repository into the file (no copy of data/ on disk).
  auto ls = repo.Ls(m.files_snapshot);
  auto tree = repo.Dump(m.files_snapshot, "/");
  SnapshotFiles files(*tree, *ls, repo.repo(), "the files of backup " + e.timestamp);
  // Formats 1 and 2 differ only in where the repository keeps the manifest; the file's manifest
  // says 1, so that a migrate older than format 2 (a recovery host's) restores it too.
  Manifest in_file = m;
  in_file.format = 1;
  WriteArchive(
      out, in_file, files,
      [&](const Sink& write) {
        Stream(*repo.Dump(m.db->snapshot, "/db.dump"), write, repo, "read the database dump of " + e.timestamp);
      },
      [&](const SwarmPart::Volume& v, const Sink& write) {
        Stream(*repo.Dump(v.snapshot, "/" + v.name + ".tar"), write, repo,
               "read the volume " + v.name + " (node " + v.node + ") of " + e.timestamp);
      },
      progress);
  return fs::file_size(out);
}

}  // namespace mig::backup
