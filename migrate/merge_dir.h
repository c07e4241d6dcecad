// `migrate merge-dir SRC DST`: the data/ merge alone, on any two folders.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "sync/apply.h"
#include "sync/plan.h"

namespace mig {

struct MergeDirOptions {
  bool checksum = false, dry_run = false, json = false, quiet = false;
};

// Merges folder `src` into `dst` with rsync -a rules; returns what it did as JSON.
nlohmann::json MergeDir(const std::string& src, const std::string& dst, const MergeDirOptions& o);

}  // namespace mig
