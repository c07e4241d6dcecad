#include "compose/rewrite.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <sstream>

#include "core/error.h"

namespace mig::compose {

std::string ApplyEdits(const std::string& text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(), [](const Edit& a, const Edit& b) { return a.pos > b.pos; });
  std::string out = text;
  size_t limit = text.size();
  for (const auto& e : edits) {
    if (e.pos + e.len > limit) Fail("internal error: overlapping edits of a compose file");
    out.replace(e.pos, e.len, e.text);
    limit = e.pos;
  }
  return out;
}

namespace {

bool ValidPrefix(const std::string& p) {
  if (p.empty() || !std::isalnum(static_cast<unsigned char>(p[0]))) return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

size_t LineStart(const std::string& t, size_t pos) {
  size_t nl = t.rfind('\n', pos == 0 ? 0 : pos - 1);
  return pos == 0 || nl == std::string::npos ? 0 : nl + 1;
}

size_t LineEnd(const std::string& t, size_t pos) {
  size_t nl = t.find('\n', pos);
  return nl == std::string::npos ? t.size() : nl;
}

// The extent of the scalar written at `pos`: quoted (quotes excluded from the replaced part)
// or plain (up to a comment or the end of the line, trailing blanks excluded).
Edit ScalarEdit(const std::string& t, size_t pos, const std::string& value) {
  char q = t[pos];
  if (q == '"' || q == '\'') {
    size_t i = pos + 1;
    while (i < t.size()) {
      if (q == '\'' && t[i] == '\'' && i + 1 < t.size() && t[i + 1] == '\'') { i += 2; continue; }
      if (q == '"' && t[i] == '\\') { i += 2; continue; }
      if (t[i] == q) break;
      ++i;
    }
    return {pos + 1, i - pos - 1, value};
  }
  size_t end = LineEnd(t, pos);
  size_t hash = t.find(" #", pos);
  if (hash != std::string::npos && hash < end) end = hash;
  for (size_t i = pos; i < end; ++i)  // a plain scalar inside a flow mapping ends at , or }
    if (t[i] == ',' || t[i] == '}') { end = i; break; }
  while (end > pos && (t[end - 1] == ' ' || t[end - 1] == '\t' || t[end - 1] == '\r')) --end;
  return {pos, end - pos, value};
}

std::string Where(const std::string& file, const YAML::Mark& m) {
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

}  // namespace

VolumePrefixPlan PlanVolumePrefix(const std::string& text, const std::string& file, const std::string& prefix) {
  if (!ValidPrefix(prefix))
    BadUsage("the prefix '" + prefix + "' is not a valid volume name start: use letters, digits, _ . -");
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    BadInput(Where(file, e.mark) + ": not valid YAML: " + e.msg);
  }
  VolumePrefixPlan plan;
  if (!root.IsMap() || !root["volumes"] || root["volumes"].IsNull()) {
    plan.warnings.push_back(file + " declares no top-level volumes: nothing to prefix");
    return plan;
  }
  YAML::Node vols = root["volumes"];
  if (!vols.IsMap()) BadInput(Where(file, vols.Mark()) + ": 'volumes:' must be a mapping");
  for (const auto& kv : vols) {
    const std::string key = kv.first.Scalar();
    const std::string name = prefix + "_" + key;
    const YAML::Node& def = kv.second;
    const YAML::Mark km = kv.first.Mark();
    const YAML::Node ext = def.IsMap() ? def["external"] : YAML::Node();
    if (ext && (ext.IsMap() || (ext.IsScalar() && ext.Scalar() != "false"))) {
      plan.warnings.push_back("volume " + key + " is external (" + Where(file, km) +
                              "): left alone; it is shared by every copy of the release");
      continue;
    }
    const size_t kpos = static_cast<size_t>(km.pos);
    const size_t key_line_end = LineEnd(text, kpos);
    if (def.IsNull()) {
      // "key:" alone, or "key: ~" / "key: null": the value, if written, is on the key's line.
      size_t colon = text.find(':', kpos + key.size());
      std::string rest = colon == std::string::npos || colon > key_line_end ? "" : text.substr(colon + 1, key_line_end - colon - 1);
      size_t hash = rest.find('#');
      std::string value = rest.substr(0, hash);
      value.erase(0, value.find_first_not_of(" \t"));
      value.erase(value.find_last_not_of(" \t\r") + 1);
      if (!value.empty()) {
        size_t vpos = text.find(value, colon + 1);
        plan.edits.push_back({vpos, value.size(), "{name: " + name + "}"});
      } else {
        std::string indent(static_cast<size_t>(km.column) + 2, ' ');
        plan.edits.push_back({key_line_end, 0, "\n" + indent + "name: " + name});
      }
    } else if (def.IsMap()) {
      if (def.Mark().pos < km.pos)  // an alias: its node was written earlier, for others too
        BadInput(Where(file, def.Mark()) + ": volume " + key + " is defined through an alias; give it its own definition first");
      const size_t vpos = static_cast<size_t>(def.Mark().pos);
      if (def["name"]) {
        const YAML::Node n = def["name"];
        plan.edits.push_back(ScalarEdit(text, static_cast<size_t>(n.Mark().pos), name));
      } else if (text[vpos] == '{') {
        size_t inner = text.find_first_not_of(" \t", vpos + 1);
        if (text[inner] == '}') plan.edits.push_back({vpos, inner - vpos + 1, "{name: " + name + "}"});
        else plan.edits.push_back({vpos + 1, 0, "name: " + name + ", "});
      } else {
        // A block mapping: the new key goes first, at the indentation of the others.
        size_t first = vpos;
        size_t ls = LineStart(text, first);
        std::string indent = text.substr(ls, first - ls);
        if (indent.find_first_not_of(' ') != std::string::npos) indent.assign(first - ls, ' ');
        plan.edits.push_back({ls, 0, indent + "name: " + name + "\n"});
      }
    } else {
      BadInput(Where(file, def.Mark()) + ": volume " + key + " must be a mapping (or empty)");
    }
    plan.names.emplace_back(key, name);
  }
  // The result must parse, with the same volumes, each named as planned.
  std::string after = ApplyEdits(text, plan.edits);
  try {
    YAML::Node check = YAML::Load(after);
    for (const auto& [key, name] : plan.names)
      if (!check["volumes"][key]["name"] || check["volumes"][key]["name"].Scalar() != name)
        Fail("internal error: the rewrite of " + file + " did not name volume " + key + " as planned; nothing was written");
  } catch (const YAML::Exception& e) {
    Fail("internal error: the rewrite of " + file + " is not valid YAML (" + e.msg + "); nothing was written");
  }
  return plan;
}

namespace {

YAML::Node LoadText(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    BadInput(Where(file, e.mark) + ": not valid YAML: " + e.msg);
  }
}

}  // namespace

std::vector<Edit> PlanConstraintEdits(const std::string& text, const std::string& file, const ConstraintRewrite& rewrite) {
  YAML::Node root = LoadText(text, file);
  std::vector<Edit> edits;
  if (!root.IsMap() || !root["services"] || !root["services"].IsMap()) return edits;
  for (const auto& kv : root["services"]) {
    const YAML::Node svc = kv.second;
    if (!svc.IsMap() || !svc["deploy"] || !svc["deploy"].IsMap()) continue;
    const YAML::Node placement = svc["deploy"]["placement"];
    if (!placement || !placement.IsMap() || !placement["constraints"] || !placement["constraints"].IsSequence()) continue;
    for (const auto& c : placement["constraints"]) {
      if (!c.IsScalar()) continue;
      const std::string was = c.Scalar();
      const auto now = rewrite(kv.first.Scalar(), was);
      if (!now || *now == was) continue;
      size_t pos = static_cast<size_t>(c.Mark().pos);
      if (pos < text.size() && (text[pos] == '"' || text[pos] == '\'')) ++pos;
      if (text.compare(pos, was.size(), was) != 0)
        BadInput(Where(file, c.Mark()) + ": the constraint '" + was + "' cannot be rewritten in place (escapes or "
                 "folded lines): write it on one line without escapes, or change it to '" + *now + "' by hand");
      // A constraint shared through an alias is written once, at its anchor: edited once.
      if (std::none_of(edits.begin(), edits.end(), [&](const Edit& e) { return e.pos == pos; }))
        edits.push_back({pos, was.size(), *now});
    }
  }
  return edits;
}

std::string OneServiceText(const std::string& text, const std::string& file, const std::string& service) {
  YAML::Node root = LoadText(text, file);
  if (!root.IsMap() || !root["services"] || !root["services"].IsMap() || !root["services"][service])
    BadInput(file + " has no service " + service);
  // The other services' blocks are cut out of the text (quotes, anchors and types stay as
  // written): each runs from its key's line to the next service's key, the last one to the
  // next top-level key.
  std::vector<size_t> top;  // line starts of the top-level keys
  size_t services_pos = 0;
  for (const auto& kv : root) {
    top.push_back(LineStart(text, static_cast<size_t>(kv.first.Mark().pos)));
    if (kv.first.Scalar() == "services") services_pos = static_cast<size_t>(kv.first.Mark().pos);
  }
  std::vector<std::pair<std::string, size_t>> keys;  // service, its key's line start
  for (const auto& kv : root["services"]) keys.emplace_back(kv.first.Scalar(), LineStart(text, kv.first.Mark().pos));
  size_t services_end = text.size();
  for (size_t t : top)
    if (t > services_pos && t < services_end) services_end = t;
  std::vector<Edit> edits;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].first == service) continue;
    const size_t end = i + 1 < keys.size() ? keys[i + 1].second : services_end;
    if (end <= keys[i].second || text[static_cast<size_t>(root["services"].Mark().pos)] == '{')
      BadInput(file + ": its services are not written one block each (a flow mapping?): cannot deploy " + service +
               " alone from it");
    edits.push_back({keys[i].second, end - keys[i].second, ""});
  }
  std::string out = ApplyEdits(text, edits);
  try {
    YAML::Node check = YAML::Load(out);
    if (!check["services"] || check["services"].size() != 1 || !check["services"][service])
      Fail("internal error: cutting the other services out of " + file + " did not leave " + service + " alone");
  } catch (const YAML::Exception& e) {
    BadInput(file + ": without its other services it is not valid YAML (" + e.msg + "; an anchor defined in "
             "another service?): define shared settings under an x- key to deploy " + service + " alone");
  }
  return out;
}

std::string LineDiff(const std::string& before, const std::string& after) {
  auto lines = [](const std::string& s) {
    std::vector<std::string> v;
    std::istringstream in(s);
    std::string l;
    while (std::getline(in, l)) v.push_back(l);
    return v;
  };
  auto a = lines(before), b = lines(after);
  // Longest common subsequence of lines (compose files are small), then walk it.
  std::vector<std::vector<uint32_t>> l(a.size() + 1, std::vector<uint32_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;)
    for (size_t j = b.size(); j-- > 0;)
      l[i][j] = a[i] == b[j] ? l[i + 1][j + 1] + 1 : std::max(l[i + 1][j], l[i][j + 1]);
  std::ostringstream out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      ++i, ++j;
    } else if (i < a.size() && (j == b.size() || l[i + 1][j] >= l[i][j + 1])) {
      out << "-" << (i + 1) << ": " << a[i] << "\n";  // removed lines first, as diff -u
      ++i;
    } else {
      out << "+" << (j + 1) << ": " << b[j] << "\n";
      ++j;
    }
  }
  return out.str();
}

}  // namespace mig::compose
