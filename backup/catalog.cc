#include "backup/catalog.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <regex>
#include <set>

#include "core/error.h"
#include "core/text.h"

namespace mig::backup {

std::string TimestampNow() {
  char buf[32];
  std::time_t now = std::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dt%H-%M-%S", &tm);
  return buf;
}

bool LooksLikeTimestamp(const std::string& s) {
  static const std::regex re(R"(\d{4}-\d{2}-\d{2}t\d{2}-\d{2}-\d{2})");
  return std::regex_match(s, re);
}

std::string ResticTime(const std::string& ts) {
  if (!LooksLikeTimestamp(ts)) Fail("not a backup timestamp: " + ts);
  return ts.substr(0, 10) + " " + ts.substr(11, 2) + ":" + ts.substr(14, 2) + ":" + ts.substr(17, 2);
}

std::string EncodeTagValue(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '%' || c == ',' || c <= ' ' || c == 0x7f) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string DecodeTagValue(const std::string& s) { return PercentDecode(s); }

std::vector<std::string> PartTags(const std::string& id, const std::string& ts, const std::string& part,
                                  const std::string& project) {
  return {kTag, std::string(kIdKey) + "=" + id, std::string(kTimestampKey) + "=" + ts,
          std::string(kPartKey) + "=" + part, "migrate:project=" + EncodeTagValue(project)};
}

std::vector<std::string> ManifestTags(const Manifest& m, const std::string& part) {
  auto tags = PartTags(m.id, m.timestamp, part, m.project);
  tags.push_back("migrate:status=" + m.status);
  tags.push_back("migrate:version=" + EncodeTagValue(m.version));
  tags.push_back("migrate:bytes=" + std::to_string(m.total_bytes()));
  if (!m.name.empty()) tags.push_back("migrate:name=" + EncodeTagValue(m.name));
  return tags;
}

std::string ManifestPath(const std::string& part) {
  return part == "manifest" ? "/manifest.json" : "/backup/manifest.json";
}

bool CarriesManifest(const restic::Snapshot& s) {
  const std::string part = s.tag(kPartKey);
  return (part == "manifest" || part == "files") && !s.tag("migrate:status").empty();
}

std::vector<Entry> Group(const std::vector<restic::Snapshot>& snaps, const std::optional<Running>& running) {
  std::map<std::pair<std::string, std::string>, Entry> by_key;  // (id, timestamp)
  for (const auto& s : snaps) {
    const std::string id = s.tag(kIdKey), ts = s.tag(kTimestampKey), part = s.tag(kPartKey);
    if (id.empty() || !LooksLikeTimestamp(ts) || part.empty()) continue;  // not one of ours
    Entry& e = by_key[{id, ts}];
    e.id = id;
    e.timestamp = ts;
    e.parts[part] = s.id;
    e.snapshots.push_back(s.id);
    if (e.host.empty()) e.host = s.hostname;
    if (e.project.empty()) e.project = DecodeTagValue(s.tag("migrate:project"));
    // A manifest part of its own says more than a files part that carries one.
    if (CarriesManifest(s) && e.manifest_part != "manifest") {
      e.manifest_part = part;
      e.status = s.tag("migrate:status");
      e.version = DecodeTagValue(s.tag("migrate:version"));
      e.name = DecodeTagValue(s.tag("migrate:name"));
      try {
        e.bytes = std::stoull(s.tag("migrate:bytes"));
      } catch (const std::exception&) {
        e.bytes = 0;
      }
    }
  }
  if (running && !by_key.count({running->id, running->timestamp})) {
    Entry& e = by_key[{running->id, running->timestamp}];
    e.id = running->id;
    e.timestamp = running->timestamp;
  }
  std::vector<Entry> out;
  for (auto& [key, e] : by_key) {
    if (!e.has_manifest()) {
      e.status = running && running->id == e.id && running->timestamp == e.timestamp ? "running" : "failed";
      if (e.status == "failed") e.error = "no manifest: the run that made it was interrupted";
    } else if (e.status != "ready") {
      e.status = "failed";
    }
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.timestamp != b.timestamp ? a.timestamp > b.timestamp : a.id > b.id;
  });
  return out;
}

std::vector<Entry> OfProject(const std::vector<Entry>& all, const std::string& project) {
  std::vector<Entry> out;
  for (const auto& e : all)
    if (e.project == project || (e.status == "running" && e.project.empty())) out.push_back(e);
  return out;
}

const Entry& Resolve(const std::vector<Entry>& all, const std::string& which) {
  if (all.empty()) BadInput("the repository holds no backup yet (migrate backup create makes one)");
  if (which == "latest" || which.empty()) {
    std::set<std::string> projects;
    for (const auto& e : all)
      if (e.status == "ready") projects.insert(e.project);
    if (projects.size() > 1) {
      std::string names;
      for (const auto& p : projects) names += (names.empty() ? "" : ", ") + (p.empty() ? "(none)" : p);
      BadInput("the repository holds the backups of several installs (projects " + names +
               "): give a backup's ID or TIMESTAMP (migrate backup list)");
    }
    for (const auto& e : all)
      if (e.status == "ready") return e;
    BadInput("the repository holds no ready backup (" + std::to_string(all.size()) +
             " failed or running; migrate backup list)");
  }
  std::vector<const Entry*> hits;
  for (const auto& e : all) {
    bool id_match = which.size() >= 4 && e.id.compare(0, which.size(), which) == 0;
    if (e.timestamp == which || id_match) hits.push_back(&e);
  }
  if (hits.size() == 1) return *hits[0];
  if (hits.empty())
    BadInput("no backup " + which + " in the repository (newest: " + all.front().timestamp + " " + all.front().id +
             "; migrate backup list)");
  std::string ids;
  for (const auto* e : hits) ids += " " + e->timestamp + " (" + e->id + ")";
  BadInput(which + " names several backups:" + ids + "; give the id, or the timestamp where they share one");
}

nlohmann::json EntryJson(const Entry& e) {
  return {{"id", e.id},         {"name", e.name},       {"timestamp", e.timestamp}, {"status", e.status},
          {"project", e.project},
          {"version", e.version}, {"bytes", e.bytes},   {"host", e.host},           {"error", e.error},
          {"snapshots", e.parts}};
}

Manifest ReadManifest(const restic::Restic& repo, const Entry& e) {
  auto it = e.parts.find(e.manifest_part);
  if (!e.has_manifest() || it == e.parts.end())
    Fail("backup " + e.timestamp + " (" + e.id + ") has no manifest: it is " + e.status);
  auto proc = repo.Dump(it->second, ManifestPath(e.manifest_part));
  std::string text;
  char buf[65536];
  for (size_t n; (n = proc->read(buf, sizeof buf)) > 0;) {
    text.append(buf, n);
    if (text.size() > (64u << 20)) Fail("the manifest of backup " + e.timestamp + " is larger than 64 MiB");
  }
  if (proc->wait() != 0) restic::Throw(restic::Diagnose(proc->err_text()), repo.repo(), "read the manifest of " + e.timestamp);
  Manifest m = ManifestFromJson(text);
  if (m.id != e.id || m.timestamp != e.timestamp)
    Fail("the manifest of backup " + e.timestamp + " (" + e.id + ") names another backup (" + m.timestamp + " " + m.id + ")");
  if (e.manifest_part == "files") m.files_snapshot = it->second;  // it lies in that snapshot
  return m;
}

std::vector<Entry> ToForget(const std::vector<Entry>& all, int keep_last) {
  std::vector<Entry> out;
  int kept = 0;
  std::string oldest_kept;
  for (const auto& e : all) {  // newest first
    if (e.status != "ready") continue;
    if (kept < std::max(keep_last, 1)) {
      ++kept;
      oldest_kept = e.timestamp;
    } else {
      out.push_back(e);
    }
  }
  for (const auto& e : all)
    if (e.status == "failed" && !oldest_kept.empty() && e.timestamp < oldest_kept) out.push_back(e);
  return out;
}

std::string RunningDescription(const Running& r) { return "backup " + r.id + " " + r.timestamp; }

std::optional<Running> ParseRunning(const std::string& holder) {
  static const std::regex re(R"(^backup ([0-9a-f]+) (\S+),)");
  std::smatch m;
  if (!std::regex_search(holder, m, re)) return std::nullopt;
  return Running{m[1], m[2]};
}

}  // namespace mig::backup
