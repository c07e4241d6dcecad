#include "origin/node_access.h"

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/files.h"

namespace mig {

namespace {

std::string Where(const std::string& path, const YAML::Mark& m) {
  return path + ":" + std::to_string(m.line + 1);
}

}  // namespace

std::map<std::string, NodeEntry> ParseNodesFile(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    BadInput(path + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
  if (!root.IsMap() || !root["nodes"] || !root["nodes"].IsMap())
    BadInput(path + ": the file must hold nodes: {HOSTNAME: {user, address, port, key}}");
  std::map<std::string, NodeEntry> out;
  for (const auto& kv : root["nodes"]) {
    const std::string host = kv.first.Scalar();
    if (!kv.second.IsMap()) BadInput(Where(path, kv.second.Mark()) + ": node " + host + " must be a mapping (user, address, port, key)");
    NodeEntry e;
    for (const auto& f : kv.second) {
      const std::string k = f.first.Scalar();
      if (!f.second.IsScalar()) BadInput(Where(path, f.second.Mark()) + ": " + k + " must be a single value");
      const std::string v = f.second.Scalar();
      if (k == "user") {
        e.user = v;
      } else if (k == "address") {
        e.address = v;
      } else if (k == "key") {
        e.key = v;
      } else if (k == "port") {
        try {
          size_t used = 0;
          e.port = std::stoi(v, &used);
          if (used != v.size() || e.port < 1 || e.port > 65535) throw std::out_of_range(v);
        } catch (const std::exception&) {
          BadInput(Where(path, f.second.Mark()) + ": port must be a number from 1 to 65535 (not \"" + v + "\")");
        }
      } else {
        BadInput(Where(path, f.first.Mark()) + ": unknown key \"" + k + "\" for node " + host +
                 " (its keys: user, address, port, key)");
      }
    }
    out[host] = e;
  }
  return out;
}

std::map<std::string, NodeEntry> ReadNodesFile(const std::string& path) {
  auto text = ReadSmallFile(path, 1 << 20);
  if (!text) BadInput("no nodes file " + path);
  return ParseNodesFile(*text, path);
}

OriginSpec NodeSpec(const std::string& hostname, const std::string& address, const NodeDefaults& d) {
  NodeEntry e;
  if (auto it = d.nodes.find(hostname); it != d.nodes.end()) e = it->second;
  const std::string user = e.user.empty() ? d.user : e.user;
  std::string host = e.address.empty() ? address : e.address;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
  OriginSpec spec;
  spec.from = user + "@" + host + (e.port ? ":" + std::to_string(e.port) : "");
  spec.ssh = d.ssh;
  if (!e.key.empty()) spec.ssh.key_file = e.key;
  spec.programs_through_agent = false;
  return spec;
}

}  // namespace mig
