// The merge decided before anything is written: what rsync -a --force would do to the target.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sync/entry.h"

namespace mig::sync {

enum class Action : uint8_t {
  kCreate,   // the target has nothing there
  kReplace,  // the target has another type, or other content
  kAttrs,    // same content; mode, owner or mtime differ
  kSkip,     // the same
};

const char* ActionName(Action a);

// One source entry and what the merge does with it.
struct Item {
  Entry src;
  Action action = Action::kSkip;
  std::optional<Entry> dst;  // what the target had at that path
  bool type_change() const { return dst && dst->type != src.type; }
};

// Counts of a plan, as printed by --dry-run and stored in report.json.
struct PlanTotals {
  uint64_t create = 0, replace = 0, attrs = 0, skip = 0;
  uint64_t bytes_to_copy = 0;   // content of created and replaced files
  uint64_t source_entries = 0, source_bytes = 0;
  uint64_t kept = 0;            // target-only entries, left as they are
  uint64_t removed = 0;         // target entries under a folder replaced by a non-folder
  uint64_t stale_temps = 0;     // temporary files of an interrupted run, removed
};

struct Plan {
  std::vector<Item> items;                   // source order: a folder before its contents
  std::vector<std::string> stale_temps;      // target paths of '.migrate.tmp.*' files
  std::vector<std::string> kept_sample;      // a few target-only paths, for --dry-run
  PlanTotals totals;
};

struct PlanOptions {
  bool set_owner = false;  // compare uid/gid (rsync -o -g: only when root)
  // With --checksum: tells whether two regular files of equal size have the same content.
  // Without it (empty), size and mtime decide, like rsync's quick check.
  std::function<bool(const Entry& src, const Entry& dst)> same_content;
};

// True for the names this program gives its temporary files.
bool IsTempName(std::string_view base);

// Compares a source listing with a target listing (both from ListTree).
Plan MakePlan(const std::vector<Entry>& src, const std::vector<Entry>& dst,
              const PlanOptions& opts);

}  // namespace mig::sync
