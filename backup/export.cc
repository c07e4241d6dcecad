#include "backup/export.h"

#include <filesystem>

#include "backup/archive.h"
#include "core/error.h"
#include "core/files.h"

namespace fs = std::filesystem;

namespace mig::backup {

uint64_t ExportBackup(const restic::Restic& repo, const Entry& e, const Manifest& m, const std::string& output) {
  if (e.status != "ready") BadInput("backup " + e.timestamp + " is " + e.status + ": only a ready backup is exported");
  if (m.swarm)
    BadInput("backup " + e.timestamp + " is of the stack " + m.swarm->stack + " on a Swarm: exporting its volumes "
             "into one file is not built yet (docs/swarm.md)");
  const std::string out = fs::absolute(output).string();
  TempDir stage(".migrate-export", fs::path(out).parent_path().string());
  repo.Restore(m.files_snapshot, stage.path(), {}, {});
  WriteArchive(out, m, stage.path(), [&](const std::function<void(const char*, size_t)>& write) {
    auto proc = repo.Dump(m.db->snapshot, "/db.dump");
    std::vector<char> buf(1 << 20);
    try {
      for (size_t n; (n = proc->read(buf.data(), buf.size())) > 0;) write(buf.data(), n);
    } catch (...) {
      proc->kill();
      proc->wait();
      throw;
    }
    if (proc->wait() != 0)
      restic::Throw(restic::Diagnose(proc->err_text()), repo.repo(), "read the database dump of " + e.timestamp);
  });
  return fs::file_size(out);
}

}  // namespace mig::backup
