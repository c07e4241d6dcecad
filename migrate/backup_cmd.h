// `migrate backup create|list|status|delete|forget|check|passwd|export` and `migrate restore`
// (docs/backup.md).
#pragma once

#include <string>

#include "backup/create.h"
#include "restore/restore.h"
#include "restic/restic.h"

namespace CLI {
class App;
}

namespace mig {

// The backup subcommands as declared on the command line, filled by parsing.
struct BackupCommands {
  CLI::App* backup = nullptr;
  CLI::App *create = nullptr, *list = nullptr, *status = nullptr, *del = nullptr, *forget = nullptr,
           *check = nullptr, *passwd = nullptr, *restore = nullptr, *exp = nullptr;
  // Shared by all of them.
  std::string to_path, project, db_service = "postgres";
  restic::Repo repo;
  bool json = false, quiet = false;
  // Per command.
  backup::CreateOptions create_opts;
  std::string nodes_file;  // a Swarm's nodes (--nodes-file)
  std::string which;  // status / delete: ID | TIMESTAMP | latest
  int keep_last = -1;
  bool prune = false, read_data = false;
  std::string new_password_file;
  std::string output;  // export
  RestoreOptions restore_opts;
};

// Declares `backup ...` and `restore` on `app`; `c` must outlive the parse.
void AddBackupCommands(CLI::App& app, BackupCommands& c);
bool BackupChosen(const BackupCommands& c);
// Runs the chosen one and prints its result; returns the exit code.
int RunBackup(BackupCommands& c);

}  // namespace mig
