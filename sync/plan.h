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

// A plan, or one chunk of a streamed plan (Planner): items in the listing order.
struct Plan {
  std::vector<Item> items;                   // source order: a folder before its contents
  std::vector<std::string> stale_temps;      // target paths of '.migrate.tmp.*' files
  std::vector<size_t> stale_before;          // for each stale temp: the item it comes before
  std::vector<std::string> kept_sample;      // a few target-only paths, for --dry-run
  PlanTotals totals;                         // of everything planned so far
  // True when applying this plan writes nothing: every item the same, no stale temporaries.
  bool ChangesNothing() const;
};

struct PlanOptions {
  bool set_owner = false;  // compare uid/gid (rsync -o -g: only when root)
  // With --checksum: tells whether two regular files of equal size have the same content.
  // Without it (empty), size and mtime decide, like rsync's quick check.
  std::function<bool(const Entry& src, const Entry& dst)> same_content;
};


// Compares a source stream with a target stream (both in the listing order), a chunk at a
// time: a merge-join that keeps nothing but the chunk and the counts (docs/streaming-merge.md).
class Planner {
 public:
  Planner(TreeStream& src, TreeStream& dst, PlanOptions opts) : src_(src), dst_(dst), opts_(std::move(opts)) {}
  // Fills `chunk` with the next items (at most `max_items`) and the stale temporaries among
  // them; its totals and kept_sample are those of everything so far. False when both streams
  // are done and the chunk is empty.
  bool Next(Plan& chunk, size_t max_items);
  const PlanTotals& totals() const { return totals_; }

 private:
  bool PeekSrc();
  bool PeekDst();
  uint64_t DrainDstUnder(const std::string& dir);
  void DrainSrcUnder(const std::string& dir);
  TreeStream& src_;
  TreeStream& dst_;
  PlanOptions opts_;
  std::optional<Entry> s_, d_;  // the next entry of each stream, read ahead
  std::string s_last_, d_last_;  // the path before it (each stream must be in order)
  uint64_t src_count_ = 0, dst_count_ = 0;
  bool s_done_ = false, d_done_ = false;
  PlanTotals totals_;
  std::vector<std::string> kept_sample_;
};

// The whole plan of two listings at once (tests, small trees).
Plan MakePlan(const std::vector<Entry>& src, const std::vector<Entry>& dst,
              const PlanOptions& opts);

}  // namespace mig::sync
