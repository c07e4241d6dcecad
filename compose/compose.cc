#include "compose/compose.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/text.h"

namespace fs = std::filesystem;

namespace mig::compose {

const Service* Project::service(const std::string& n) const {
  for (const auto& s : services)
    if (s.name == n) return &s;
  return nullptr;
}

namespace {

std::string At(const std::string& file, const YAML::Node& n) {
  auto m = n.Mark();
  if (m.is_null()) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

[[noreturn]] void Shape(const std::string& file, const YAML::Node& n, const std::string& what) {
  BadInput(At(file, n) + ": " + what);
}

std::string Scalar(const std::string& file, const YAML::Node& n, const std::string& what) {
  if (!n.IsScalar()) Shape(file, n, what + " must be a single value");
  return n.Scalar();
}

// A duration as compose writes one ("10s", "1m30s", "500ms", "1h"): whole seconds, rounded up.
int ParseGraceSeconds(const std::string& s, const std::string& where) {
  static const std::regex part(R"((\d+(?:\.\d+)?)(h|ms|us|ns|m|s))");
  double total = 0;
  size_t at = 0;
  for (std::sregex_iterator it(s.begin(), s.end(), part), end; it != end; ++it) {
    if (static_cast<size_t>(it->position()) != at) break;
    const double v = std::stod((*it)[1]);
    const std::string u = (*it)[2];
    total += u == "h" ? v * 3600 : u == "m" ? v * 60 : u == "s" ? v : u == "ms" ? v / 1e3 : u == "us" ? v / 1e6 : v / 1e9;
    at += static_cast<size_t>(it->length());
  }
  if (s.empty() || at != s.size() || total > 86400)
    BadInput(where + ": stop_grace_period '" + s + "' is not a duration such as 10s or 1m30s");
  return static_cast<int>(std::ceil(total));
}

int ParsePortNumber(const std::string& s, const std::string& where) {
  if (s.empty()) return 0;
  size_t dash = s.find('-');
  std::string first = dash == std::string::npos ? s : s.substr(0, dash);  // a range: its start
  try {
    size_t used = 0;
    int v = std::stoi(first, &used);
    if (used != first.size() || v < 0 || v > 65535) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    BadInput(where + ": '" + s + "' is not a port number");
  }
}

// "[[ip:]host:]container[/proto]"
Port ParseShortPort(std::string s, const std::string& where) {
  Port p;
  auto slash = s.find('/');
  if (slash != std::string::npos) {
    p.protocol = s.substr(slash + 1);
    s = s.substr(0, slash);
  }
  auto last = s.rfind(':');
  if (last == std::string::npos) {
    p.container_port = ParsePortNumber(s, where);
    return p;
  }
  p.container_port = ParsePortNumber(s.substr(last + 1), where);
  std::string rest = s.substr(0, last);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    p.host_port = ParsePortNumber(rest, where);
  } else {
    p.host_ip = rest.substr(0, colon);
    if (p.host_ip.size() >= 2 && p.host_ip.front() == '[' && p.host_ip.back() == ']')
      p.host_ip = p.host_ip.substr(1, p.host_ip.size() - 2);
    p.host_port = ParsePortNumber(rest.substr(colon + 1), where);
  }
  return p;
}

// A mapping with YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) resolved, as compose does:
// the mapping's own keys win over merged ones, earlier merged mappings over later ones.
// yaml-cpp reads `<<` as a plain key, so this is done here.
YAML::Node Merged(const YAML::Node& map) {
  if (!map.IsMap() || !map["<<"]) return map;
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& kv : map)
    if (kv.first.Scalar() != "<<") out[kv.first.Scalar()] = kv.second;
  const YAML::Node src = map["<<"];
  std::vector<YAML::Node> parts;
  if (src.IsSequence()) for (const auto& p : src) parts.push_back(p);
  else parts.push_back(src);
  for (const auto& part : parts) {
    YAML::Node m = Merged(part);
    if (!m.IsMap()) continue;
    for (const auto& kv : m)
      if (!out[kv.first.Scalar()]) out[kv.first.Scalar()] = kv.second;
  }
  return out;
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) BadInput("cannot read " + path + ": " + ErrnoString());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Env ParseDotEnv(const std::string& text) {
  Env env;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.rfind("export ", 0) == 0) t = Trim(t.substr(7));
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(t.substr(0, eq));
    std::string val = Trim(t.substr(eq + 1));
    size_t endq = val.empty() ? std::string::npos : val.find(val[0], 1);
    if ((val[0] == '"' || val[0] == '\'') && endq != std::string::npos) {
      val = val.substr(1, endq - 1);  // what follows the closing quote is a comment
    } else {
      auto hash = val.find(" #");
      if (hash != std::string::npos) val = Trim(val.substr(0, hash));
    }
    env[key] = val;
  }
  return env;
}

std::string Interpolate(const std::string& s, const Env& env, const Env& fallback,
                        const std::string& where) {
  auto lookup = [&](const std::string& k, bool& found) -> std::string {
    auto it = env.find(k);
    if (it != env.end()) return found = true, it->second;
    it = fallback.find(k);
    if (it != fallback.end()) return found = true, it->second;
    found = false;
    return "";
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '{') {
      size_t close = i + 2;
      for (int depth = 1; close < s.size(); ++close) {  // the matching brace: defaults nest
        if (s[close] == '{') ++depth;
        if (s[close] == '}' && --depth == 0) break;
      }
      if (close >= s.size()) BadInput(where + ": unclosed ${ in '" + s + "'");
      std::string body = s.substr(i + 2, close - i - 2);
      size_t op = body.find_first_of(":-?");
      std::string name = body.substr(0, op);
      bool found = false;
      std::string val = lookup(name, found);
      if (op != std::string::npos) {
        bool colon = body[op] == ':';
        char kind = colon ? (op + 1 < body.size() ? body[op + 1] : '-') : body[op];
        std::string arg = body.substr(op + (colon ? 2 : 1));
        bool unset = colon ? (!found || val.empty()) : !found;
        if (kind == '-' && unset) val = Interpolate(arg, env, fallback, where);
        if (kind == '?' && unset)
          BadInput(where + ": required variable " + name + " is missing: " + arg);
      }
      out += val;
      i = close;
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
    if (j == i + 1) {
      out += '$';
      continue;
    }
    bool found = false;
    out += lookup(s.substr(i + 1, j - i - 1), found);
    i = j - 1;
  }
  return out;
}

std::string NormalizeProjectName(const std::string& name) {
  std::string out;
  for (char c : name) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-') out += l;
  }
  return out;
}

std::string FindComposeFile(const std::string& dir) {
  for (const char* n : {"docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"}) {
    fs::path p = fs::path(dir) / n;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

Project LoadProject(const std::string& dir, const std::string& file, const Env& process_env) {
  Project p;
  p.dir = dir;
  p.file = file;
  std::error_code ec;
  if (fs::exists(fs::path(dir) / ".env", ec)) p.dotenv = ParseDotEnv(ReadFile((fs::path(dir) / ".env").string()));

  YAML::Node root;
  try {
    root = YAML::Load(ReadFile(file));
  } catch (const YAML::Exception& e) {
    BadInput(file + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
             ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) Shape(file, root, "a compose file must be a mapping with a 'services:' key");
  auto interp = [&](const YAML::Node& n, const std::string& what) {
    return Interpolate(Scalar(file, n, what), process_env, p.dotenv, At(file, n));
  };

  auto pn = process_env.find("COMPOSE_PROJECT_NAME");
  auto dn = p.dotenv.find("COMPOSE_PROJECT_NAME");
  if (pn != process_env.end() && !pn->second.empty()) p.name = NormalizeProjectName(pn->second);
  else if (dn != p.dotenv.end() && !dn->second.empty()) p.name = NormalizeProjectName(dn->second);
  else if (root["name"] && root["name"].IsScalar()) p.name = NormalizeProjectName(interp(root["name"], "name"));
  else p.name = NormalizeProjectName(fs::path(dir).filename().string());

  YAML::Node services = root["services"];
  if (!services) BadInput(file + ": no 'services:' section (is this a docker-compose file?)");
  if (!services.IsMap()) Shape(file, services, "'services:' must be a mapping of service names");
  for (const auto& kv : services) {
    Service s;
    s.name = kv.first.Scalar();
    const YAML::Node def = Merged(kv.second);
    if (def.IsNull()) { p.services.push_back(s); continue; }
    if (!def.IsMap()) Shape(file, def, "service '" + s.name + "' must be a mapping");
    if (def["image"]) s.image = interp(def["image"], "image");
    if (def["container_name"]) s.container_name = interp(def["container_name"], "container_name");
    if (def["stop_grace_period"])
      s.stop_grace_seconds = ParseGraceSeconds(interp(def["stop_grace_period"], "stop_grace_period"), At(file, def["stop_grace_period"]));
    auto need = [&s](std::string name) {
      if (!name.empty() && std::find(s.needs.begin(), s.needs.end(), name) == s.needs.end()) s.needs.push_back(name);
    };
    if (const YAML::Node d = def["depends_on"]) {  // a list of names, or a mapping of name: {condition}
      if (d.IsSequence()) for (const auto& n : d) need(interp(n, "depends_on entry"));
      else if (d.IsMap()) for (const auto& n : d) need(n.first.Scalar());
      else Shape(file, d, "'depends_on:' must be a list or a mapping");
    }
    if (const YAML::Node l = def["links"]; l && l.IsSequence())  // SERVICE or SERVICE:ALIAS
      for (const auto& n : l) {
        const std::string v = interp(n, "links entry");
        need(v.substr(0, v.find(':')));
      }
    if (const YAML::Node nm = def["network_mode"]) {
      const std::string v = interp(nm, "network_mode");
      if (v.rfind("service:", 0) == 0) need(v.substr(8));
    }
    if (const YAML::Node vf = def["volumes_from"]; vf && vf.IsSequence())  // [service:]SERVICE[:ro|rw], container:NAME
      for (const auto& n : vf) {
        std::string v = interp(n, "volumes_from entry");
        if (v.rfind("container:", 0) == 0) continue;
        if (v.rfind("service:", 0) == 0) v.erase(0, 8);
        need(v.substr(0, v.find(':')));
      }
    if (def["scale"]) s.scaled = true;
    if (const YAML::Node d = def["deploy"]; d && d.IsMap() && Merged(d)["replicas"]) s.scaled = true;
    if (const YAML::Node d = def["deploy"]; d && d.IsMap())
      if (const YAML::Node pl = Merged(d)["placement"]; pl && pl.IsMap())
        if (const YAML::Node cs = Merged(pl)["constraints"]; cs && cs.IsSequence())
          for (const auto& c : cs) s.constraints.push_back(interp(c, "constraint"));
    if (const YAML::Node ef = def["env_file"]) {
      std::vector<YAML::Node> files;
      if (ef.IsSequence()) for (const auto& f : ef) files.push_back(f.IsMap() ? f["path"] : f);
      else files.push_back(ef);
      for (const auto& f : files) {
        fs::path path = fs::path(dir) / interp(f, "env_file");
        if (!fs::exists(path, ec)) BadInput(At(file, f) + ": env_file " + path.string() + " does not exist");
        for (auto& [k, v] : ParseDotEnv(ReadFile(path.string()))) s.environment[k] = v;
      }
    }
    if (const YAML::Node env = def["environment"]) {
      if (env.IsMap()) {
        for (const auto& e : env) {
          std::string k = e.first.Scalar();
          if (e.second.IsNull()) {
            auto it = process_env.find(k);
            if (it != process_env.end()) s.environment[k] = it->second;
          } else {
            s.environment[k] = interp(e.second, "environment value");
          }
        }
      } else if (env.IsSequence()) {
        for (const auto& e : env) {
          std::string kv2 = interp(e, "environment entry");
          auto eq = kv2.find('=');
          if (eq == std::string::npos) {
            auto it = process_env.find(kv2);
            if (it != process_env.end()) s.environment[kv2] = it->second;
          } else {
            s.environment[kv2.substr(0, eq)] = kv2.substr(eq + 1);
          }
        }
      } else {
        Shape(file, env, "'environment:' must be a mapping or a list");
      }
    }
    if (const YAML::Node ports = def["ports"]) {
      if (!ports.IsSequence()) Shape(file, ports, "'ports:' must be a list");
      for (const auto& pt : ports) {
        if (pt.IsMap()) {
          Port port;
          if (pt["target"]) port.container_port = ParsePortNumber(interp(pt["target"], "target"), At(file, pt));
          if (pt["published"]) port.host_port = ParsePortNumber(interp(pt["published"], "published"), At(file, pt));
          if (pt["host_ip"]) port.host_ip = interp(pt["host_ip"], "host_ip");
          if (pt["protocol"]) port.protocol = interp(pt["protocol"], "protocol");
          s.ports.push_back(port);
        } else {
          s.ports.push_back(ParseShortPort(interp(pt, "port"), At(file, pt)));
        }
      }
    }
    if (const YAML::Node vols = def["volumes"]) {
      if (!vols.IsSequence()) Shape(file, vols, "a service's 'volumes:' must be a list");
      for (const auto& v : vols) {
        Mount m;
        if (v.IsMap()) {
          if (v["type"]) m.type = interp(v["type"], "type");
          if (v["source"]) m.source = interp(v["source"], "source");
          if (v["target"]) m.target = interp(v["target"], "target");
          if (v["read_only"]) m.read_only = interp(v["read_only"], "read_only") == "true";
        } else {
          // "[source:]target[:mode]"
          std::string spec = interp(v, "volume");
          std::vector<std::string> parts;
          for (size_t start = 0;;) {
            size_t c = spec.find(':', start);
            parts.push_back(spec.substr(start, c - start));
            if (c == std::string::npos) break;
            start = c + 1;
          }
          if (parts.size() == 1) {
            m.target = parts[0];  // an anonymous volume
          } else {
            m.source = parts[0];
            m.target = parts[1];
            if (parts.size() > 2) m.read_only = parts[2].find("ro") != std::string::npos;
            bool path = !m.source.empty() && (m.source[0] == '.' || m.source[0] == '/' || m.source[0] == '~');
            if (path) m.type = "bind";
          }
        }
        if (m.type == "bind" && !m.source.empty() && m.source[0] == '.')
          m.source = fs::weakly_canonical(fs::path(dir) / m.source).string();
        s.mounts.push_back(m);
      }
    }
    p.services.push_back(std::move(s));
  }
  if (const YAML::Node vols = root["volumes"]; vols && vols.IsMap())
    for (const auto& v : vols) p.volumes.push_back(v.first.Scalar());
  p.raw_volumes_ = root["volumes"];
  p.raw_networks_ = root["networks"];
  p.raw_env_ = process_env;
  EffectiveNames(p, p.name);
  return p;
}

namespace {

// Fills `out` with the docker names of the top-level `section` (volumes or networks).
void NamesOf(const Project& p, const YAML::Node& section, const std::string& project,
             std::map<std::string, std::string>& out, std::vector<std::string>* from_project_var) {
  if (!section || !section.IsMap()) return;
  for (const auto& kv : section) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& def = kv.second;
    std::string name = project + "_" + key;
    if (def.IsMap()) {
      bool external = def["external"] && def["external"].IsScalar() && def["external"].Scalar() == "true";
      if (def["external"] && def["external"].IsMap() && def["external"]["name"]) {
        external = true;
        name = def["external"]["name"].Scalar();
      } else if (external) {
        name = key;
      }
      if (def["name"] && def["name"].IsScalar()) {
        const std::string raw = def["name"].Scalar();
        if (from_project_var && raw.find("COMPOSE_PROJECT_NAME") != std::string::npos) from_project_var->push_back(key);
        name = Interpolate(raw, p.raw_env_, p.dotenv, p.file);
      }
    }
    out[key] = name;
  }
}

}  // namespace

void EffectiveNames(Project& p, const std::string& project) {
  p.volume_names.clear();
  p.network_names.clear();
  p.names_from_project_var.clear();
  NamesOf(p, p.raw_volumes_, project, p.volume_names, &p.names_from_project_var);
  NamesOf(p, p.raw_networks_, project, p.network_names, nullptr);
  if (!p.network_names.count("default")) p.network_names["default"] = project + "_default";
}

}  // namespace mig::compose
