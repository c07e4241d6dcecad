#include "restore/skips.h"

#include <algorithm>

#include "core/error.h"

namespace mig {

Keep ResolveSkips(const compose::Project& p, const std::string& data_dir, const std::string& db_service,
                  const std::vector<std::string>& skip) {
  Keep k;
  for (const auto& name : skip) {
    const compose::Service* svc = p.service(name);
    if (!svc) {
      std::string names;
      for (const auto& s : p.services) names += (names.empty() ? "" : ", ") + s.name;
      BadInput("--skip " + name + ": the compose file has no such service (its services: " + names + ")");
    }
    if (name == db_service) {
      k.db = true;
      continue;
    }
    for (const auto& m : svc->mounts) {
      if (m.type != "bind") continue;
      const std::string& src = m.source;
      if (src == data_dir || src == data_dir + "/") {
        k.data = true;
      } else if (src.compare(0, data_dir.size() + 1, data_dir + "/") == 0) {
        std::string rel = src.substr(data_dir.size() + 1);
        while (!rel.empty() && rel.back() == '/') rel.pop_back();
        if (!rel.empty()) k.paths.push_back(rel);
      }
    }
  }
  // Sorted, and a path inside another kept one is kept with it.
  std::sort(k.paths.begin(), k.paths.end());
  k.paths.erase(std::unique(k.paths.begin(), k.paths.end()), k.paths.end());
  std::vector<std::string> outer;
  for (const auto& path : k.paths)
    if (outer.empty() || path.compare(0, outer.back().size() + 1, outer.back() + "/") != 0) outer.push_back(path);
  k.paths = outer;
  if (k.data) k.paths.clear();
  return k;
}

std::string DbSkipReason(bool backup_has_db, bool skip_db_flag, const std::string& db_service) {
  if (!backup_has_db) return "the backup holds no database";
  if (skip_db_flag) return "--skip-db";
  if (db_service.empty()) return "the install has no database service";
  return "--skip " + db_service;
}

}  // namespace mig
