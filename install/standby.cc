#include "install/standby.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"

namespace mig {

std::string StandbyStatePath(const std::string& install_dir) { return install_dir + "/backup/standby.json"; }

std::optional<StandbyState> ReadStandbyState(const std::string& install_dir) {
  const std::string path = StandbyStatePath(install_dir);
  auto text = ReadSmallFile(path, 64 << 10);
  if (!text) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(*text);
    StandbyState s;
    s.backup_id = j.at("backup_id").get<std::string>();
    s.timestamp = j.at("timestamp").get<std::string>();
    s.version = j.value("version", "");
    s.restored_at = j.value("restored_at", "");
    s.promoted_at = j.at("promoted_at").is_null() ? "" : j.at("promoted_at").get<std::string>();
    return s;
  } catch (const std::exception& e) {
    Fail(path + " is damaged (" + e.what() + "): whether this standby was promoted is unknown; put it right or "
         "remove it (removing it makes the install a standby that was never promoted)");
  }
}

void WriteStandbyState(const std::string& install_dir, const StandbyState& s) {
  std::error_code ec;
  std::filesystem::create_directories(install_dir + "/backup", ec);
  nlohmann::json j = {{"backup_id", s.backup_id},     {"timestamp", s.timestamp},
                      {"version", s.version},         {"restored_at", s.restored_at},
                      {"promoted_at", s.promoted() ? nlohmann::json(s.promoted_at) : nlohmann::json(nullptr)}};
  WriteFileAtomic(StandbyStatePath(install_dir), j.dump(2) + "\n");
}

}  // namespace mig
