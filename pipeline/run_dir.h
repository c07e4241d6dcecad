// The run's own folder, migration/<timestamp>/: made for a new run, or the unfinished one
// named by migration/in-progress reused (resume). Holds state.json, the safety copy, the log
// and report.json (docs/migrate-local.md).
#pragma once

#include <string>

namespace mig {

// Where a migration into `to_dir` keeps its run folders: --temp-dir, else to_dir/migration.
std::string MigrationRoot(const std::string& temp_dir, const std::string& to_dir);
// The physical copy's marker in that folder (db::CopyMarker): written before the target's cluster
// is swapped, removed once its credentials were re-applied.
std::string CopyMarkerFile(const std::string& root);

// The run folder that OpenRunDir chose.
struct RunDir {
  std::string path;      // <root>/<timestamp>
  bool resumed = false;  // an interrupted run's folder, reused
};

// Reuses the folder that `root`/in-progress names, or makes a new one (with a fresh
// state.json) and names it there; both files are written atomically. Throws mig::Error when
// the folder cannot be made or in-progress cannot be read.
RunDir OpenRunDir(const std::string& root);

// Marks the run finished: in-progress removed, so that the next run starts anew.
void CloseRunDir(const std::string& root);

}  // namespace mig
