// What one backup holds (docs/backup.md "manifest.json"): written into the repository with its last part,
// read by list, status, check and restore.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "db/dump.h"
#include "db/postgres.h"

namespace mig::backup {

inline constexpr int kManifestFormat = 2;  // 1: the manifest as a part of its own (still read)

struct DbPart {
  int major = 0;
  std::string name, user, service;
  std::optional<db::DbLocale> locale;
  std::vector<db::Role> roles;
  db::DbState state;  // rows per table and sequences, counted in the dump's snapshot
  uint64_t dump_bytes = 0;
  std::string snapshot;  // restic snapshot id of db.dump
};

// A stack on a Swarm as it was (docs/swarm.md): its nodes, its services' placement, and each
// volume read on its node (a part of its own: a tar stream).
struct SwarmPart {
  struct Node {
    std::string id, hostname, address, role;
    std::map<std::string, std::string> labels;
  };
  struct Service {
    std::string name;  // as the compose file names it
    bool global = false;
    int replicas = 0;
    std::vector<std::string> constraints, nodes;  // nodes: where its tasks ran
  };
  struct Volume {
    std::string name, service, node;  // node: hostname
    uint64_t bytes = 0;               // of its tar stream
    std::string part, snapshot;       // the part's name ("volume-1") and restic snapshot id
  };
  std::string stack;
  std::vector<Node> nodes;
  std::vector<Service> services;
  std::vector<Volume> volumes;
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
  std::optional<SwarmPart> swarm;      // a stack on a Swarm
  std::string migrate_version, restic_version;

  uint64_t total_bytes() const {
    uint64_t n = bytes + (db ? db->dump_bytes : 0);
    if (swarm)
      for (const auto& v : swarm->volumes) n += v.bytes;
    return n;
  }
};

nlohmann::json ToJson(const Manifest& m);
// Reads a manifest; throws mig::Error (failed) naming what is missing or malformed.
Manifest ManifestFromJson(const std::string& text);

}  // namespace mig::backup
