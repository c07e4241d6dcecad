#include "backup/manifest.h"

#include "core/error.h"

namespace mig::backup {

using json = nlohmann::json;

namespace {

json RoleJson(const db::Role& r) {
  return {{"name", r.name},       {"super", r.super},     {"inherit", r.inherit},       {"createrole", r.createrole},
          {"createdb", r.createdb}, {"login", r.login}, {"replication", r.replication}, {"bypassrls", r.bypassrls}};
}

db::Role RoleFrom(const json& j) {
  db::Role r;
  r.name = j.at("name").get<std::string>();
  r.super = j.value("super", false);
  r.inherit = j.value("inherit", true);
  r.createrole = j.value("createrole", false);
  r.createdb = j.value("createdb", false);
  r.login = j.value("login", false);
  r.replication = j.value("replication", false);
  r.bypassrls = j.value("bypassrls", false);
  return r;
}

}  // namespace

json ToJson(const Manifest& m) {
  json j = {{"format", m.format},   {"id", m.id},         {"timestamp", m.timestamp},
            {"name", m.name},       {"status", m.status}, {"error", m.error},
            {"host", m.host},       {"started", m.started}, {"finished", m.finished},
            {"install", {{"path", m.path}, {"version", m.version}, {"project", m.project},
                         {"services", m.services}, {"config", m.config}}},
            {"data", {{"files", m.files}, {"bytes", m.bytes}, {"snapshot", m.files_snapshot}}},
            {"db", nullptr},
            {"suspended", m.suspended},
            {"tools", {{"migrate", m.migrate_version}, {"restic", m.restic_version}}}};
  if (m.db) {
    const DbPart& d = *m.db;
    json roles = json::array();
    for (const auto& r : d.roles) roles.push_back(RoleJson(r));
    json tables = json::object(), sequences = json::object();
    for (const auto& [k, v] : d.state.tables) tables[k] = v;
    for (const auto& [k, v] : d.state.sequences) sequences[k] = v;
    j["db"] = {{"major", d.major}, {"name", d.name}, {"user", d.user}, {"service", d.service},
               {"locale", d.locale ? json{{"encoding", d.locale->encoding}, {"collate", d.locale->collate},
                                          {"ctype", d.locale->ctype}}
                                   : json(nullptr)},
               {"roles", roles}, {"tables", tables}, {"sequences", sequences},
               {"dump_bytes", d.dump_bytes}, {"snapshot", d.snapshot}};
  }
  if (m.swarm) {
    const SwarmPart& w = *m.swarm;
    json nodes = json::array(), services = json::array(), volumes = json::array();
    for (const auto& n : w.nodes)
      nodes.push_back({{"id", n.id}, {"hostname", n.hostname}, {"address", n.address}, {"role", n.role},
                       {"labels", n.labels}});
    for (const auto& s : w.services)
      services.push_back({{"name", s.name}, {"mode", s.global ? "global" : "replicated"}, {"replicas", s.replicas},
                          {"constraints", s.constraints}, {"nodes", s.nodes}});
    for (const auto& v : w.volumes)
      volumes.push_back({{"name", v.name}, {"service", v.service}, {"node", v.node}, {"bytes", v.bytes},
                         {"part", v.part}, {"snapshot", v.snapshot}});
    j["swarm"] = {{"stack", w.stack}, {"nodes", nodes}, {"services", services}, {"volumes", volumes}};
  }
  return j;
}

Manifest ManifestFromJson(const std::string& text) {
  Manifest m;
  try {
    json j = json::parse(text);
    m.format = j.at("format").get<int>();
    if (m.format > kManifestFormat)
      Fail("the backup's manifest has format " + std::to_string(m.format) + ", newer than this migrate reads (" +
           std::to_string(kManifestFormat) + "): use a newer migrate");
    m.id = j.at("id").get<std::string>();
    m.timestamp = j.at("timestamp").get<std::string>();
    m.name = j.value("name", "");
    m.status = j.at("status").get<std::string>();
    m.error = j.value("error", "");
    m.host = j.value("host", "");
    m.started = j.value("started", "");
    m.finished = j.value("finished", "");
    const json& in = j.at("install");
    m.path = in.value("path", "");
    m.version = in.value("version", "");
    m.project = in.value("project", "");
    m.services = in.value("services", std::vector<std::string>{});
    m.config = in.value("config", std::vector<std::string>{});
    const json& data = j.at("data");
    m.files = data.value("files", uint64_t{0});
    m.bytes = data.value("bytes", uint64_t{0});
    m.files_snapshot = data.value("snapshot", "");
    m.suspended = j.value("suspended", std::vector<std::string>{});
    if (j.contains("tools")) {
      m.migrate_version = j["tools"].value("migrate", "");
      m.restic_version = j["tools"].value("restic", "");
    }
    if (j.contains("db") && !j["db"].is_null()) {
      const json& d = j["db"];
      DbPart p;
      p.major = d.at("major").get<int>();
      p.name = d.at("name").get<std::string>();
      p.user = d.value("user", "");
      p.service = d.value("service", "");
      if (d.contains("locale") && !d["locale"].is_null())
        p.locale = db::DbLocale{d["locale"].at("encoding"), d["locale"].at("collate"), d["locale"].at("ctype")};
      for (const auto& r : d.at("roles")) p.roles.push_back(RoleFrom(r));
      for (const auto& [k, v] : d.at("tables").items()) p.state.tables[k] = v.get<int64_t>();
      for (const auto& [k, v] : d.at("sequences").items()) p.state.sequences[k] = v.get<std::string>();
      p.dump_bytes = d.value("dump_bytes", uint64_t{0});
      p.snapshot = d.value("snapshot", "");
      m.db = std::move(p);
    }
    if (j.contains("swarm") && !j["swarm"].is_null()) {
      const json& w = j["swarm"];
      SwarmPart sp;
      sp.stack = w.at("stack").get<std::string>();
      for (const auto& n : w.at("nodes"))
        sp.nodes.push_back({n.at("id").get<std::string>(), n.at("hostname").get<std::string>(),
                            n.value("address", ""), n.value("role", ""),
                            n.value("labels", std::map<std::string, std::string>{})});
      for (const auto& s : w.at("services")) {
        SwarmPart::Service x;
        x.name = s.at("name").get<std::string>();
        x.global = s.value("mode", "replicated") == "global";
        x.replicas = s.value("replicas", 0);
        x.constraints = s.value("constraints", std::vector<std::string>{});
        x.nodes = s.value("nodes", std::vector<std::string>{});
        sp.services.push_back(std::move(x));
      }
      for (const auto& v : w.at("volumes"))
        sp.volumes.push_back({v.at("name").get<std::string>(), v.value("service", ""), v.at("node").get<std::string>(),
                              v.value("bytes", uint64_t{0}), v.at("part").get<std::string>(),
                              v.value("snapshot", "")});
      m.swarm = std::move(sp);
    }
  } catch (const json::exception& e) {
    Fail(std::string("the backup's manifest is damaged: ") + e.what());
  }
  return m;
}

}  // namespace mig::backup
