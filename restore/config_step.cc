#include "restore/config_step.h"

#include <filesystem>

#include "core/error.h"

namespace fs = std::filesystem;

namespace mig {

bool HoldsNoInstall(const std::string& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  if (!fs::is_directory(dir, ec)) return false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name == "restore-node-map.json" && e.is_regular_file(ec)) continue;  // a Swarm restore's map, to fill in
    if ((name != "backup" && name != "restore") || e.is_symlink(ec) || !e.is_directory(ec)) return false;
  }
  return !ec;
}

void KeepConfigCopy(const std::string& dir, const std::string& run_dir, const std::string& file) {
  std::error_code ec;
  if (!fs::exists(dir + "/" + file, ec)) return;
  fs::create_directories(run_dir + "/config.backup", ec);
  fs::copy_file(dir + "/" + file, run_dir + "/config.backup/" + file, fs::copy_options::skip_existing, ec);
  if (ec) Fail("cannot keep a copy of " + dir + "/" + file + ": " + ec.message());
}

std::vector<std::string> RestoreConfig(RestoreSource& source, const std::string& dir, const std::string& run_dir,
                                       bool fresh) {
  std::vector<std::string> files;
  for (const auto& f : source.manifest().config)
    if (fresh || f == ".env" || f == "custom.env") files.push_back(f);
  for (const auto& f : files) KeepConfigCopy(dir, run_dir, f);
  if (!files.empty()) source.Config(dir, files);
  return files;
}

}  // namespace mig
