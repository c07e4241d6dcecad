// What `restore --skip SERVICE` keeps: the database when it is the database service, else the
// data/ paths the service bind-mounts.
#pragma once

#include <string>
#include <vector>

#include "compose/compose.h"

namespace mig {

struct Keep {
  bool db = false;                 // the database stays as it is
  bool data = false;               // all of data/ stays (a skipped service mounts data/ itself)
  std::vector<std::string> paths;  // data/-relative paths that stay, sorted, none inside another
};

// Throws mig::Error (input) naming the services when one in `skip` is not in the compose file.
Keep ResolveSkips(const compose::Project& p, const std::string& data_dir, const std::string& db_service,
                  const std::vector<std::string>& skip);

// Why a restore leaves the database as it is, in the operator's words: the backup holds none,
// --skip-db, the install has no database service, or --skip `db_service`.
std::string DbSkipReason(bool backup_has_db, bool skip_db_flag, const std::string& db_service);

}  // namespace mig
