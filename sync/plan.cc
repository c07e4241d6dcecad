#include "sync/plan.h"

#include "core/error.h"

#include <cstdint>

namespace mig::sync {

bool Plan::ChangesNothing() const {
  if (!stale_temps.empty()) return false;
  for (const Item& item : items)
    if (item.action != Action::kSkip) return false;
  return true;
}

const char* ActionName(Action a) {
  switch (a) {
    case Action::kCreate: return "create";
    case Action::kReplace: return "replace";
    case Action::kAttrs: return "attrs";
    case Action::kSkip: return "skip";
  }
  return "?";
}


namespace {

bool SameAttrs(const Entry& s, const Entry& d, const PlanOptions& o) {
  if (o.set_owner && (s.uid != d.uid || s.gid != d.gid)) return false;
  if (s.type == FileType::kSymlink) return s.same_mtime(d);  // a symlink's mode is not its own
  return s.mode == d.mode && s.same_mtime(d);
}

Action Decide(const Entry& s, const Entry* d, const PlanOptions& o) {
  if (!d) return Action::kCreate;
  if (d->type != s.type) return Action::kReplace;
  switch (s.type) {
    case FileType::kRegular:
      if (s.size != d->size) return Action::kReplace;
      if (o.same_content) {
        if (!o.same_content(s, *d)) return Action::kReplace;
      } else if (!s.same_mtime(*d)) {
        return Action::kReplace;
      }
      break;
    case FileType::kSymlink:
      if (s.link_target != d->link_target) return Action::kReplace;
      break;
    case FileType::kCharDevice:
    case FileType::kBlockDevice:
      if (s.rdev != d->rdev) return Action::kReplace;
      break;
    default:
      break;
  }
  return SameAttrs(s, *d, o) ? Action::kSkip : Action::kAttrs;
}

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path[dir.size()] == '/' && path.compare(0, dir.size(), dir) == 0;
}

}  // namespace

namespace {

// Reads the next entry of `in` into `slot`, checking that the stream is in the listing order.
void Advance(TreeStream& in, std::optional<Entry>& slot, bool& done, std::string& last, bool first, const char* which) {
  Entry e;
  if (!in.Next(e)) {
    done = true;
    return;
  }
  if (!first && !ListOrderLess(last, e.path))
    Fail(std::string("internal: the ") + which + " listing is out of order at " + e.path);
  last = e.path;
  slot = std::move(e);
}

}  // namespace

bool Planner::PeekSrc() {
  if (!s_ && !s_done_) Advance(src_, s_, s_done_, s_last_, src_count_++ == 0, "source");
  return s_.has_value();
}

bool Planner::PeekDst() {
  if (!d_ && !d_done_) Advance(dst_, d_, d_done_, d_last_, dst_count_++ == 0, "target");
  return d_.has_value();
}

uint64_t Planner::DrainDstUnder(const std::string& dir) {
  uint64_t n = 0;
  while (PeekDst() && Under(d_->path, dir)) {
    d_.reset();
    ++n;
  }
  return n;
}

void Planner::DrainSrcUnder(const std::string& dir) {
  while (PeekSrc() && Under(s_->path, dir)) s_.reset();
}

bool Planner::Next(Plan& chunk, size_t max_items) {
  chunk.items.clear();
  chunk.stale_temps.clear();
  chunk.stale_before.clear();
  auto& t = totals_;
  while (chunk.items.size() < max_items) {
    bool has_s = PeekSrc(), has_d = PeekDst();
    if (!has_s && !has_d) break;
    if (has_d && (!has_s || ListOrderLess(d_->path, s_->path))) {
      // Only in the target: kept, or a temporary file of an interrupted run (removed).
      std::string path = std::move(d_->path);
      d_.reset();
      if (IsTempName(BaseName(path))) {
        DrainDstUnder(path);  // goes with it
        chunk.stale_temps.push_back(std::move(path));
        chunk.stale_before.push_back(chunk.items.size());
        ++t.stale_temps;
      } else {
        ++t.kept;
        if (kept_sample_.size() < 20) kept_sample_.push_back(std::move(path));
      }
      continue;
    }
    Item item;
    item.src = std::move(*s_);
    s_.reset();
    if (IsTempName(BaseName(item.src.path))) {
      // A source entry with a temporary name: never carried, nor what it holds.
      DrainSrcUnder(item.src.path);
      continue;
    }
    if (has_d && d_->path == item.src.path) {
      item.dst = std::move(*d_);
      d_.reset();
    }
    item.action = Decide(item.src, item.dst ? &*item.dst : nullptr, opts_);
    if (item.dst && item.dst->type == FileType::kDirectory && item.src.type != FileType::kDirectory)
      t.removed += DrainDstUnder(item.dst->path);  // a folder becoming a file takes its contents
    ++t.source_entries;
    t.source_bytes += item.src.size;
    switch (item.action) {
      case Action::kCreate: ++t.create; t.bytes_to_copy += item.src.size; break;
      case Action::kReplace: ++t.replace; t.bytes_to_copy += item.src.size; break;
      case Action::kAttrs: ++t.attrs; break;
      case Action::kSkip: ++t.skip; break;
    }
    chunk.items.push_back(std::move(item));
  }
  chunk.totals = totals_;
  chunk.kept_sample = kept_sample_;
  return !chunk.items.empty() || !chunk.stale_temps.empty();
}

Plan MakePlan(const std::vector<Entry>& src, const std::vector<Entry>& dst, const PlanOptions& opts) {
  auto s = StreamOf(src), d = StreamOf(dst);
  Planner planner(*s, *d, opts);
  Plan plan;
  planner.Next(plan, SIZE_MAX);
  return plan;
}

}  // namespace mig::sync
