#include "dns/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/text.h"
#include "core/files.h"
#include "core/timer.h"

namespace fs = std::filesystem;

namespace mig::dns {

namespace {

// Writes `text` to `path` atomically (core/files.h), naming --state-dir when it cannot.
void WriteAtomically(const std::string& path, const std::string& text) {
  try {
    WriteFileAtomic(path, text);
  } catch (const Error& e) {
    Fail(std::string(e.what()) + "; or give another folder with --state-dir");
  }
}


}  // namespace

std::string StateDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (auto d = EnvOr("MIGRATE_STATE_DIR"); !d.empty()) return d;
  if (auto d = EnvOr("XDG_STATE_HOME"); !d.empty()) return d + "/migrate";
  if (auto d = EnvOr("HOME"); !d.empty()) return d + "/.local/state/migrate";
  return "/var/lib/migrate";
}

std::string RecordPath(const std::string& dir, const std::string& name) {
  std::string n = CanonicalName(name);
  if (n.empty() || n.find_first_of("/ \t\n\\") != std::string::npos || n[0] == '.')
    BadUsage("'" + name + "' is not a DNS name");
  return dir + "/dns/" + n + ".json";
}

CutoverRecord RecordOf(const Update& u, const ARecords& before) {
  CutoverRecord r;
  r.name = CanonicalName(u.name);
  r.provider = u.provider;
  r.zone = u.zone;
  r.server = u.server;
  r.tsig_key = u.tsig_key;
  r.hosted_zone_id = u.hosted_zone_id;
  r.endpoint_url = u.endpoint_url;
  r.command = u.command;
  r.previous = before.addresses;
  r.previous_ttl = before.ttl;
  r.address = u.address;
  r.ttl = u.ttl;
  r.at = UtcNow();
  return r;
}

std::string SaveRecord(const std::string& dir, const CutoverRecord& rec) {
  const std::string path = RecordPath(dir, rec.name);
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) Fail("cannot create " + fs::path(path).parent_path().string() + " for the DNS cutover record: " +
               ec.message() + "; give another folder with --state-dir");
  nlohmann::json j = {{"format", "migrate-dns-cutover/1"}, {"name", rec.name}, {"provider", rec.provider},
                      {"zone", rec.zone}, {"server", rec.server}, {"tsig_key", rec.tsig_key},
                      {"hosted_zone_id", rec.hosted_zone_id}, {"endpoint_url", rec.endpoint_url},
                      {"command", rec.command}, {"previous", rec.previous}, {"previous_ttl", rec.previous_ttl},
                      {"address", rec.address}, {"ttl", rec.ttl}, {"at", rec.at}};
  WriteAtomically(path, j.dump(2) + "\n");
  return path;
}

KeptRecord KeepRecord(const std::string& dir, const std::string& name) {
  KeptRecord k;
  k.path = RecordPath(dir, name);
  std::ifstream in(k.path);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    k.text = ss.str();
  }
  return k;
}

void RestoreRecord(const KeptRecord& kept) {
  if (kept.text) WriteAtomically(kept.path, *kept.text);
  else ::unlink(kept.path.c_str());
}

std::optional<CutoverRecord> LoadRecord(const std::string& dir, const std::string& name) {
  const std::string path = RecordPath(dir, name);
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    auto j = nlohmann::json::parse(in);
    if (j.value("format", "") != "migrate-dns-cutover/1") throw std::runtime_error("unknown format");
    CutoverRecord r;
    r.name = j.at("name").get<std::string>();
    r.provider = j.at("provider").get<std::string>();
    r.zone = j.value("zone", "");
    r.server = j.value("server", "");
    r.tsig_key = j.value("tsig_key", "");
    r.hosted_zone_id = j.value("hosted_zone_id", "");
    r.endpoint_url = j.value("endpoint_url", "");
    r.command = j.value("command", "");
    r.previous = j.at("previous").get<std::vector<std::string>>();
    r.previous_ttl = j.value("previous_ttl", 0);
    r.address = j.at("address").get<std::string>();
    r.ttl = j.value("ttl", 0);
    r.at = j.value("at", "");
    for (const auto& a : r.previous)
      if (!IsIPv4(a)) throw std::runtime_error("'" + a + "' is not an IPv4 address");
    if (r.name != CanonicalName(name)) throw std::runtime_error("it is about " + r.name);
    return r;
  } catch (const std::exception& e) {
    BadInput("the DNS cutover record " + path + " is damaged (" + e.what() +
             "): give the old address with --to OLD_IP instead of --rollback");
  }
}

}  // namespace mig::dns
