// `migrate merge-dir SRC DST`: the data/ merge alone, on any two folders.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ssh/session.h"
#include "sync/apply.h"
#include "sync/plan.h"

namespace mig {

struct MergeDirOptions {
  bool checksum = false, dry_run = false, json = false, quiet = false;
  // Read SRC through a local migrate-agent and the agent protocol, as a remote migration does
  // (its frames, deltas and checks, without SSH): for tests and benchmarks.
  bool via_agent = false;
  // SRC is on this host (user@host[:port]), read by migrate-agent over SSH.
  std::string from;
  ssh::Options ssh;
  bool sudo = false;
  size_t chunk_items = 4096;  // entries planned and applied at a time
};

// Merges folder `src` into `dst` with rsync -a rules; returns what it did as JSON.
nlohmann::json MergeDir(const std::string& src, const std::string& dst, const MergeDirOptions& o);

}  // namespace mig
