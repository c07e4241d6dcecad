// The repository's backups: restic snapshots grouped by their backup id (docs/backup.md "One
// backup in the repository"), each with its status.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backup/manifest.h"
#include "restic/restic.h"

namespace mig::backup {

// The tag every part carries, and the keys of the others ("migrate:id=3fa85f64").
inline constexpr const char* kTag = "migrate";
inline constexpr const char* kIdKey = "migrate:id";
inline constexpr const char* kTimestampKey = "migrate:ts";
inline constexpr const char* kPartKey = "migrate:part";

// "2026-11-30t21-00-00" (UTC) for now; "2026-11-30 21:00:00" (restic --time) for a timestamp.
std::string TimestampNow();
std::string ResticTime(const std::string& timestamp);
bool LooksLikeTimestamp(const std::string& s);

// The tags of a part's snapshot; the part that carries the manifest adds its summary (status,
// version, bytes, name) so that `backup list` needs one restic call.
// `project`: the install's compose project, so that installs sharing a repository keep apart.
std::vector<std::string> PartTags(const std::string& id, const std::string& timestamp, const std::string& part,
                                  const std::string& project);
// `part`: "files" (format 2, a ready backup: /backup/manifest.json in data/'s snapshot) or
// "manifest" (a part of its own: /manifest.json, a failed backup's or format 1's).
std::vector<std::string> ManifestTags(const Manifest& m, const std::string& part);
// Where a manifest lies in the snapshot of `part` that carries it.
std::string ManifestPath(const std::string& part);
// Whether a snapshot of a backup carries its manifest (its summary in the tags).
bool CarriesManifest(const restic::Snapshot& s);
// A text as a tag value (restic splits --tag at commas): '%', ',', spaces and controls escaped.
std::string EncodeTagValue(const std::string& s);
std::string DecodeTagValue(const std::string& s);

// One backup as the repository holds it.
struct Entry {
  std::string id, timestamp, name, status, version, host, error;
  std::string project;  // the install's compose project
  uint64_t bytes = 0;
  std::map<std::string, std::string> parts;  // "files", "db", "manifest", "volume-N" -> snapshot id
  std::vector<std::string> snapshots;         // every snapshot of it (what forget removes)
  std::string manifest_part;                  // the part whose snapshot holds the manifest ("" none)
  bool has_manifest() const { return !manifest_part.empty(); }
};

// A backup a process on this server is making (from the install's job lock).
struct Running {
  std::string id, timestamp;
};

// Groups the snapshots tagged `migrate` into backups (one per id and timestamp), newest first.
// A backup with a manifest has the manifest's status (a `manifest` part's before a `files`
// part's: a failed run writes one over a files part that carries `ready`); one without is
// `running` when it is `running`, else `failed`.
std::vector<Entry> Group(const std::vector<restic::Snapshot>& snaps, const std::optional<Running>& running);
// The backups of one install (its compose project), and those running here.
std::vector<Entry> OfProject(const std::vector<Entry>& all, const std::string& project);
// ID (or a prefix of 4+ hex digits) | TIMESTAMP | latest (the newest ready backup). Throws
// mig::Error (input) naming what there is when none or several match, and for `latest` among
// the backups of several installs.
const Entry& Resolve(const std::vector<Entry>& all, const std::string& which);
nlohmann::json EntryJson(const Entry& e);

// Reads a backup's manifest from the repository; throws mig::Error when it has none or it is
// damaged.
Manifest ReadManifest(const restic::Restic& repo, const Entry& e);

// What `forget --keep-last N` removes: the ready backups after the N newest (the newest ready
// one is kept whatever N is), and the failed ones older than the oldest ready one kept. Never
// a running one.
std::vector<Entry> ToForget(const std::vector<Entry>& all, int keep_last);

// The job lock's description for a backup, and its reading back.
std::string RunningDescription(const Running& r);
std::optional<Running> ParseRunning(const std::string& holder);

}  // namespace mig::backup
