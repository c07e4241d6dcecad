// A release folder as the migration sees it: its compose project, postgres service and data/.
#pragma once

#include <string>
#include <vector>

#include "compose/compose.h"
#include "db/postgres.h"

namespace mig {

// One install folder (the source or the target of a migration).
struct Install {
  std::string role;        // "source" or "target", for messages
  std::string dir;         // real path
  std::string version;     // from VERSION, "" when absent
  compose::Project project;
  std::string project_name;  // the compose project it runs (or would run) under
  std::string db_service;    // "" with --skip-db
  db::PgTarget pg;           // credentials; container filled in by preflight
  std::string host;          // "" on this server, else user@host (the old server of a remote migration)
  std::string mirror;        // remote only: a local copy of the install's top-level files
  // Which of a legacy release's root paths (kLegacyRootPaths, install/legacy.h) it has.
  std::vector<std::string> legacy_paths;

  std::string data_dir() const { return dir + "/data"; }
};

// The hidden folder inside a data/ that is a mount point where a restore stages the backup's
// data/ (restore/data_step.h); never part of a backup.
inline constexpr const char* kRestoreStageName = ".migrate-restore";

// Reads and checks an install folder. Throws mig::Error (input) naming what is wrong.
// `project_override` (--from-project / --to-project) wins over the derived project name.
Install LoadInstall(const std::string& path, const std::string& role, const std::string& db_service,
                    const std::string& project_override, const compose::Env& process_env);

// Names `db_service` as the install's database and reads its credentials (POSTGRES_USER,
// POSTGRES_PASSWORD, POSTGRES_DB from the service's environment). Throws mig::Error (input)
// when the compose file has no such service.
void UseDbService(Install& in, const std::string& db_service);

// The process environment as a map.
compose::Env ProcessEnv();

// Where an install's job lock lives (core/job_lock.h): one backup, restore or migration into
// it at a time.
std::string JobLockPath(const std::string& install_dir);

// Refuses a source and target that are the same folder or lie inside one another.
void CheckDistinct(const Install& from, const Install& to);

}  // namespace mig
