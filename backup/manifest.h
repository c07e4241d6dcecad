// What one backup holds (docs/backup.md "manifest.json"): written last into the repository,
// read by list, status, check and restore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "db/dump.h"
#include "db/postgres.h"

namespace mig::backup {

inline constexpr int kManifestFormat = 1;

struct DbPart {
  int major = 0;
  std::string name, user, service;
  std::optional<db::DbLocale> locale;
  std::vector<db::Role> roles;
  db::DbState state;  // rows per table and sequences, counted in the dump's snapshot
  uint64_t dump_bytes = 0;
  std::string snapshot;  // restic snapshot id of db.dump
};

struct Manifest {
  int format = kManifestFormat;
  std::string id, timestamp, name;
  std::string status;  // "ready" or "failed"
  std::string error;   // why it failed
  std::string host, started, finished;
  // The install as it was.
  std::string path, version, project;
  std::vector<std::string> services, config;  // compose services; top-level files kept
  uint64_t files = 0, bytes = 0;  // data/ and the configuration, as restic counted them
  std::string files_snapshot;
  std::optional<DbPart> db;
  std::vector<std::string> suspended;  // services stopped for the backup (--suspend)
  std::string migrate_version, restic_version;

  uint64_t total_bytes() const { return bytes + (db ? db->dump_bytes : 0); }
};

nlohmann::json ToJson(const Manifest& m);
// Reads a manifest; throws mig::Error (failed) naming what is missing or malformed.
Manifest ManifestFromJson(const std::string& text);

}  // namespace mig::backup
