#include "pipeline/run_state.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"

namespace mig {

namespace {
constexpr int kFormat = 2;  // 1: the unversioned file of migrate 0.1 before 2026-12
}

RunState RunState::Load(const std::string& path) {
  RunState s;
  std::optional<std::string> text = ReadSmallFile(path, 64 << 10);
  if (!text) return s;
  auto damaged = [&](const std::string& why) {
    Fail(path + " is damaged (" + why + "): it records what this run's safety copy holds, so the run stops "
         "rather than guess; the safety copy beside it is untouched. Look at the folder, then either fix "
         "state.json or move the folder away (keep its data.backup/ until the target is checked) and run again");
  };
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) damaged("not a JSON object");
  for (const char* key : {"data_backup", "target_dump"}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_boolean()) damaged(std::string("no true/false \"") + key + "\"");
  }
  if (j.contains("format") && (!j["format"].is_number_integer() || j["format"].get<int>() > kFormat))
    damaged("a format newer than this migrate knows: use the migrate that started the run");
  s.backup_done = j["data_backup"].get<bool>();
  s.dump_done = j["target_dump"].get<bool>();
  if (j.contains("downtime_began")) {
    const auto& d = j["downtime_began"];
    if (!d.is_object() || !d.contains("utc") || !d["utc"].is_string() || !d.contains("epoch") ||
        !d["epoch"].is_number())
      damaged("a \"downtime_began\" without its utc and epoch");
    s.downtime_began = d["utc"].get<std::string>();
    s.downtime_began_epoch = d["epoch"].get<double>();
  }
  if (j.contains("cutover_done")) {
    if (!j["cutover_done"].is_boolean()) damaged("a \"cutover_done\" that is not true/false");
    s.cutover_done = j["cutover_done"].get<bool>();
  }
  return s;
}

void RunState::Save(const std::string& path) const {
  nlohmann::json j = {{"format", kFormat}, {"data_backup", backup_done}, {"target_dump", dump_done}};
  if (!downtime_began.empty()) j["downtime_began"] = {{"utc", downtime_began}, {"epoch", downtime_began_epoch}};
  if (cutover_done) j["cutover_done"] = true;
  WriteFileAtomic(path, j.dump() + "\n");
}

}  // namespace mig
