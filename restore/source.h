// Where a restore reads its backup from: the repository (restic) or an exported file (a tar,
// which needs no repository and no password).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "db/dump.h"
#include "install/install.h"
#include "pipeline/report.h"
#include "restic/restic.h"

namespace mig {

class RestoreSource {
 public:
  virtual ~RestoreSource() = default;
  // "backup 2026-11-30t21-00-00 (3fa85f64) in /srv/backups", "the backup file /root/backup.tar".
  virtual std::string Describe() const = 0;
  virtual const backup::Manifest& manifest() const = 0;
  // Writes the listed configuration files (top-level names) into `dir`.
  virtual void Config(const std::string& dir, const std::vector<std::string>& files) = 0;
  // Writes the backup's data/ as `work_dir`/data, without the `skip` paths (data/-relative).
  // May run on a thread of its own beside Dump()'s stream.
  virtual void Data(const std::string& work_dir, const std::vector<std::string>& skip) = 0;
  virtual std::unique_ptr<db::DumpSource> Dump() = 0;
  // A Swarm volume's tar stream (docs/swarm.md), read from the returned program's stdout; its
  // exit status says whether the stream was whole. Throws mig::Error when the source has none.
  virtual std::unique_ptr<Proc> Volume(const backup::SwarmPart::Volume& v) = 0;

  // A live source (migrate --from of a stack) merges its data/ into the install's with the
  // migration's rules (rsync -a: what only the target has is kept), recording the step in `rep`
  // (`dry_run`: the plan only). A backup has none (it fails): its data/ replaces the install's
  // (Data).
  virtual void MergeData(const Install& to, bool dry_run, Report& rep);
  // A live source stops what writes to it (--stop-old): its services but the database before the
  // copy (`db_too` false), its database after the dump (true); they stay stopped only once the
  // run succeeded (Keep). Returns what it did, "" for nothing.
  virtual std::string StopWriters(bool db_too) { return ""; }
  // The run succeeded: what was stopped stays stopped.
  virtual void Keep() {}
  // What the operator does with the source afterwards (report.json next_steps).
  virtual std::vector<std::string> NextSteps() const { return {}; }
};

// A ready backup of the repository: ID | TIMESTAMP | latest. `install_dir`: whose job lock says
// which backup is running. Throws mig::Error (input) for a failed or running backup.
// `project`: the install's compose project ("" for a folder without an install): `latest` is
// among its backups.
std::unique_ptr<RestoreSource> FromRepository(const restic::Repo& repo, const std::string& which,
                                              const std::string& install_dir, const std::string& project);
// An exported file, checked member by member before anything is read from it.
std::unique_ptr<RestoreSource> FromFile(const std::string& path);

// Whether `which` names an exported file rather than a backup of the repository.
bool NamesFile(const std::string& which);

}  // namespace mig
