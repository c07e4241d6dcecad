// A standby install's state (docs/daemon.md "Standby"): which backup it holds, and whether it
// was promoted. INSTALL/backup/standby.json, written only by `migrate restore --standby` and
// `migrate standby promote`, each while holding the install's job lock.
#pragma once

#include <optional>
#include <string>

namespace mig {

struct StandbyState {
  std::string backup_id, timestamp, version;  // the backup restored last
  std::string restored_at;                     // UTC, ISO 8601
  std::string promoted_at;                     // "" until `migrate standby promote`
  bool promoted() const { return !promoted_at.empty(); }
};

std::string StandbyStatePath(const std::string& install_dir);

// The install's standby state; nullopt when it is not a standby. Throws mig::Error (failed)
// when the file is damaged: never read as "not promoted".
std::optional<StandbyState> ReadStandbyState(const std::string& install_dir);

// Written atomically (core WriteFileAtomic); the folder made when absent.
void WriteStandbyState(const std::string& install_dir, const StandbyState& s);

}  // namespace mig
