#include "install/legacy.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace mig {

namespace {

// The KEY of a .env line ("" for a comment, a blank or a line without '=').
std::string LineKey(const std::string& line) {
  std::string t = Trim(line);
  if (t.empty() || t[0] == '#') return "";
  if (t.rfind("export ", 0) == 0) t = Trim(t.substr(7));
  const auto eq = t.find('=');
  return eq == std::string::npos ? "" : Trim(t.substr(0, eq));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool Owned(const std::string& key) {
  auto ends = [&](const std::string& s) { return key.size() >= s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0; };
  // The database's credentials too: the new release's volume was made with its own.
  return key == "COMPOSE_PROJECT_NAME" || key == "COMPOSE_FILE" || key == "VERSION" || ends("_TAG") || ends("_VERSION") ||
         key == "POSTGRES_USER" || key == "POSTGRES_PASSWORD" || key == "POSTGRES_DB";
}

}  // namespace

std::string LegacyReason(const std::vector<std::string>& present) {
  return present.empty() ? "" : Joined(present) + " at its root";
}

LegacyDbVolume ChooseLegacyDbVolume(const std::string& key, const std::string& project, const std::string& version,
                                    const std::vector<std::string>& volumes, const std::string& override) {
  const std::string suffix = "_" + key;
  if (!override.empty()) return {override + suffix, override};
  if (std::find(volumes.begin(), volumes.end(), project + suffix) != volumes.end()) return {project + suffix, project};
  // VERSION as docker-compose made a project name of it, with and without its leading v.
  std::set<std::string> forms;
  std::string v = Lower(Trim(version));
  if (!v.empty() && v[0] == 'v') v.erase(0, 1);
  for (const std::string& base : {v, "v" + v})
    for (const char* dot : {"", "_", "-", "."}) {
      std::string f;
      for (char c : base) f += c == '.' ? std::string(dot) : std::string(1, c);
      forms.insert(compose::NormalizeProjectName(f));
    }
  std::vector<std::string> candidates, fitting;
  for (const auto& vol : volumes) {
    if (vol.size() <= suffix.size() || vol.compare(vol.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    candidates.push_back(vol);
    if (!v.empty() && forms.count(vol.substr(0, vol.size() - suffix.size()))) fitting.push_back(vol);
  }
  if (fitting.size() == 1) return {fitting[0], fitting[0].substr(0, fitting[0].size() - suffix.size())};
  if (fitting.size() > 1)
    BadInput("several volumes could hold this legacy release's database (" + Joined(fitting) +
             "): say which with --from-project PROJECT (the volume is PROJECT" + suffix + ")");
  BadInput("this legacy release's database volume is neither " + project + suffix +
           (v.empty() ? std::string() : " nor VERSION" + suffix + " (" + Trim(version) + ")") + "; the engine's " +
           "volumes ending in " + suffix + ": " + (candidates.empty() ? std::string("none") : Joined(candidates)) +
           ": say which with --from-project PROJECT (the volume is PROJECT" + suffix + "), or use --skip-db");
}

std::string DbVolumeKey(const compose::Project& p, const std::string& service) {
  const compose::Service* s = p.service(service);
  if (!s) return "";
  std::string first;
  for (const auto& m : s->mounts) {
    if (m.type != "volume" || m.source.empty()) continue;
    if (m.target == "/var/lib/postgresql/data") return m.source;
    if (first.empty()) first = m.source;
  }
  return first;
}

EnvMove MoveEnvEdits(const std::string& old_env, const std::string& old_custom, const std::string& new_env,
                     const std::string& new_custom) {
  const compose::Env now = compose::ParseDotEnv(new_env), custom_now = compose::ParseDotEnv(new_custom);
  // The lines to move, KEY -> the old line, in the order met (.env first, then custom.env, whose
  // lines win).
  std::vector<std::pair<std::string, std::string>> move;
  EnvMove r;
  auto take = [&](const std::string& text, bool all) {
    const compose::Env parsed = compose::ParseDotEnv(text);
    for (const auto& line : Lines(text)) {
      const std::string key = LineKey(line);
      if (key.empty() || !parsed.count(key)) continue;
      auto it = now.find(key);
      if (!all && it != now.end() && it->second == parsed.at(key)) continue;
      if (Owned(key)) {
        if (std::find(r.owned.begin(), r.owned.end(), key) == r.owned.end()) r.owned.push_back(key);
        continue;
      }
      auto same = std::find_if(move.begin(), move.end(), [&](const auto& m) { return m.first == key; });
      if (same != move.end())
        same->second = line;
      else
        move.emplace_back(key, line);
    }
  };
  take(old_env, false);
  take(old_custom, true);
  std::vector<std::string> out = Lines(new_custom);
  std::vector<std::string> appended;
  for (const auto& [key, line] : move) {
    bool replaced = false;
    for (auto& l : out)
      if (LineKey(l) == key) {
        l = line;
        replaced = true;
      }
    if (!replaced) appended.push_back(line);
    // Moved when custom.env did not already say the same.
    auto c = custom_now.find(key);
    const compose::Env one = compose::ParseDotEnv(line);
    if (c == custom_now.end() || c->second != one.at(key)) r.moved.push_back(key);
  }
  if (!appended.empty()) {
    out.push_back("# moved from the previous release's .env and custom.env by migrate (a legacy install)");
    out.insert(out.end(), appended.begin(), appended.end());
  }
  for (const auto& l : out) r.custom_env += l + "\n";
  return r;
}

}  // namespace mig
