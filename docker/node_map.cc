#include "docker/node_map.h"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/text.h"

namespace mig::docker {

namespace {

// A constraint's parts: its key and the position and length of its value in the text.
struct Constraint {
  std::string key, value;
  size_t value_pos = 0;
};

std::optional<Constraint> Split(const std::string& c) {
  size_t op = c.find("==");
  if (op == std::string::npos) op = c.find("!=");
  if (op == std::string::npos) return std::nullopt;
  auto blank = [](char ch) { return ch == ' ' || ch == '\t'; };
  size_t kb = 0, ke = op;
  while (kb < ke && blank(c[kb])) ++kb;
  while (ke > kb && blank(c[ke - 1])) --ke;
  size_t vb = op + 2, ve = c.size();
  while (vb < ve && blank(c[vb])) ++vb;
  while (ve > vb && blank(c[ve - 1])) --ve;
  return Constraint{c.substr(kb, ke - kb), c.substr(vb, ve - vb), vb};
}

// Swarm compares a constraint's key and value without regard to case.
bool Fold(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The old node a constraint names, or nullptr; `pins`: only an == constraint.
const OldNode* Named(const std::string& constraint, const std::vector<OldNode>& old, bool* by_id = nullptr,
                     bool pins = false) {
  auto c = Split(constraint);
  if (!c || c->value.empty()) return nullptr;
  if (pins && constraint.find("==") == std::string::npos) return nullptr;
  for (const auto& n : old) {
    if (Fold(c->key, "node.hostname") && Fold(n.hostname, c->value)) return by_id ? (*by_id = false, &n) : &n;
    if (Fold(c->key, "node.id") && Fold(n.id, c->value)) return by_id ? (*by_id = true, &n) : &n;
  }
  return nullptr;
}

std::string Names(const std::vector<SwarmNode>& nodes) {
  std::vector<std::string> v;
  for (const auto& n : nodes) v.push_back(n.hostname + " (" + n.address + ")");
  return Joined(v);
}

}  // namespace

std::pair<std::string, std::string> ParseNodeMapArg(const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    BadUsage("--node-map takes OLD=NEW (an old node's hostname or address = a node of this Swarm), not '" + arg + "'");
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

NodePairs ParseNodeMapFile(const std::string& text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    BadInput(path + ": not valid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("nodes") || !j["nodes"].is_array())
    BadInput(path + ": expected {\"nodes\": [{\"hostname\": OLD, \"new\": NEW}, ...]} (as migrate restore wrote it)");
  NodePairs pairs;
  for (const auto& n : j["nodes"]) {
    auto str = [&](const char* k) {
      if (!n.is_object() || !n.contains(k)) return std::string();
      if (!n[k].is_string()) BadInput(path + ": \"" + k + "\" must be a string in " + n.dump());
      return n[k].get<std::string>();
    };
    const std::string old = !str("hostname").empty() ? str("hostname") : str("address");
    if (old.empty()) BadInput(path + ": an entry without \"hostname\": " + n.dump());
    const std::string nw = TrimEnd(str("new"));
    if (!nw.empty()) pairs.emplace_back(old, nw);
  }
  return pairs;
}

std::string NodeMapFileText(const std::vector<OldNode>& needed, const std::map<std::string, SwarmNode>& to) {
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const auto& n : needed) {
    auto it = to.find(n.hostname);
    nodes.push_back({{"hostname", n.hostname},
                     {"address", n.address},
                     {"role", n.role},
                     {"new", it == to.end() ? std::string() : it->second.hostname}});
  }
  return nlohmann::ordered_json{{"nodes", nodes}}.dump(2) + "\n";
}

std::vector<std::string> NodesNamedBy(const std::vector<std::string>& constraints, const std::vector<OldNode>& old,
                                      bool pins_only) {
  std::vector<std::string> out;
  for (const auto& c : constraints)
    if (const OldNode* n = Named(c, old, nullptr, pins_only);
        n && std::find(out.begin(), out.end(), n->hostname) == out.end())
      out.push_back(n->hostname);
  return out;
}

NodeMap MapNodes(const std::vector<OldNode>& old, const std::vector<std::string>& needed,
                 const std::vector<SwarmNode>& target, const NodePairs& pairs) {
  auto old_by = [&](const std::string& key) -> const OldNode* {
    for (const auto& n : old)
      if (Fold(n.hostname, key)) return &n;
    for (const auto& n : old)
      if (n.address == key || n.id == key) return &n;
    return nullptr;
  };
  auto new_by = [&](const std::string& key) -> const SwarmNode* {
    // A node that left stays listed (down) beside its successor of the same name and address.
    for (bool ready : {true, false}) {
      for (const auto& n : target)
        if (n.id == key || (n.ready() == ready && Fold(n.hostname, key))) return &n;
      for (const auto& n : target)
        if (n.ready() == ready && n.address == key) return &n;
    }
    return nullptr;
  };
  NodeMap m;
  for (const auto& h : needed) {
    const OldNode* o = old_by(h);
    if (!o) Fail("internal error: the backup names node " + h + " but does not list it");
    if (std::none_of(m.needed.begin(), m.needed.end(), [&](const OldNode& x) { return x.hostname == h; }))
      m.needed.push_back(*o);
  }
  std::vector<std::string> usable;
  for (const auto& n : target)
    if (n.ready() && n.availability == "active") usable.push_back(n.hostname);
  if (m.needed.size() > usable.size()) {
    std::vector<std::string> olds_needed;
    for (const auto& o : m.needed) olds_needed.push_back(o.hostname);
    BadInput("the backup's stack needs " + std::to_string(m.needed.size()) + " nodes of their own (" +
             Joined(olds_needed) + ": volumes and pinned services) and this Swarm has " +
             std::to_string(usable.size()) + " ready and active (" + (usable.empty() ? "none" : Joined(usable)) +
             "): add nodes to it (docker swarm join) first");
  }
  for (const auto& o : m.needed)  // the same Swarm: the node is itself
    for (const auto& n : target)
      if (!o.id.empty() && n.id == o.id) m.to[o.hostname] = n;
  std::vector<std::string> olds;
  for (const auto& n : old) olds.push_back(n.hostname + " (" + n.address + ")");
  for (const auto& [from, onto] : pairs) {
    const OldNode* o = old_by(from);
    if (!o) BadInput("--node-map " + from + "=" + onto + ": " + from + " is none of the backup's nodes (" + Joined(olds) + ")");
    const SwarmNode* n = new_by(onto);
    if (!n)
      BadInput("--node-map " + from + "=" + onto + ": " + onto + " is no node of this Swarm (docker node ls: " +
               Names(target) + ")");
    m.to[o->hostname] = *n;
  }
  std::map<std::string, std::string> onto;  // new hostname -> the old node mapped onto it
  for (const auto& o : m.needed) {
    auto it = m.to.find(o.hostname);
    if (it == m.to.end()) {
      m.missing.push_back(o);
      continue;
    }
    const SwarmNode& n = it->second;
    if (!n.ready())
      BadInput("node " + n.hostname + " (" + n.address + "), mapped from " + o.hostname + ", is " + n.state +
               ", not ready (docker node ls): bring it back or map " + o.hostname + " onto another node");
    if (n.availability != "active")
      BadInput("node " + n.hostname + " (" + n.address + "), mapped from " + o.hostname + ", is " + n.availability +
               ": Swarm starts no task there (docker node update --availability active " + n.hostname + ")");
    if (auto [at, fresh] = onto.emplace(n.hostname, o.hostname); !fresh)
      BadInput("the old nodes " + at->second + " and " + o.hostname + " both map onto " + n.hostname +
               ": each needs a node of its own (their volumes share names and their pinned services their node); "
               "this Swarm has " + std::to_string(target.size()) + " nodes: " + Names(target));
  }
  return m;
}

std::optional<std::string> RewriteConstraint(const std::string& constraint, const std::vector<OldNode>& old,
                                             const NodeMap& map) {
  bool by_id = false;
  const OldNode* o = Named(constraint, old, &by_id);
  if (!o) return std::nullopt;
  auto it = map.to.find(o->hostname);
  if (it == map.to.end()) return std::nullopt;
  const Constraint c = *Split(constraint);
  std::string out = constraint;
  out.replace(c.value_pos, c.value.size(), by_id ? it->second.id : it->second.hostname);
  return out;
}

}  // namespace mig::docker
