#include "sync/plan.h"

#include <unordered_map>

namespace mig::sync {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kCreate: return "create";
    case Action::kReplace: return "replace";
    case Action::kAttrs: return "attrs";
    case Action::kSkip: return "skip";
  }
  return "?";
}

bool IsTempName(std::string_view base) { return base.rfind(".migrate.tmp.", 0) == 0; }

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

Plan MakePlan(const std::vector<Entry>& src, const std::vector<Entry>& dst,
              const PlanOptions& opts) {
  Plan plan;
  std::unordered_map<std::string_view, const Entry*> by_path;
  by_path.reserve(dst.size());
  for (const auto& e : dst) {
    if (!plan.stale_temps.empty() && Under(e.path, plan.stale_temps.back())) continue;  // goes with it
    if (IsTempName(BaseName(e.path))) {
      plan.stale_temps.push_back(e.path);
      continue;
    }
    by_path.emplace(e.path, &e);
  }
  plan.totals.stale_temps = plan.stale_temps.size();

  std::vector<std::string> replaced_dirs;  // target folders that become something else
  plan.items.reserve(src.size());
  std::string skipped;  // a source folder with a temporary name: never carried, nor what it holds
  for (const auto& s : src) {
    if (!skipped.empty() && Under(s.path, skipped)) continue;
    if (IsTempName(BaseName(s.path))) {
      skipped = s.path;
      continue;
    }
    auto it = by_path.find(s.path);
    const Entry* d = it == by_path.end() ? nullptr : it->second;
    Item item;
    item.src = s;
    item.action = Decide(s, d, opts);
    if (d) {
      item.dst = *d;
      by_path.erase(it);
      if (d->type == FileType::kDirectory && s.type != FileType::kDirectory)
        replaced_dirs.push_back(d->path);
    }
    auto& t = plan.totals;
    ++t.source_entries;
    t.source_bytes += s.size;
    switch (item.action) {
      case Action::kCreate: ++t.create; t.bytes_to_copy += s.size; break;
      case Action::kReplace: ++t.replace; t.bytes_to_copy += s.size; break;
      case Action::kAttrs: ++t.attrs; break;
      case Action::kSkip: ++t.skip; break;
    }
    plan.items.push_back(std::move(item));
  }
  // What is left of the target is not in the source: kept, unless a replaced folder held it.
  for (const auto& e : dst) {
    if (!by_path.count(e.path)) continue;
    bool removed = false;
    for (const auto& r : replaced_dirs)
      if (Under(e.path, r)) removed = true;
    if (removed) {
      ++plan.totals.removed;
    } else {
      ++plan.totals.kept;
      if (plan.kept_sample.size() < 20) plan.kept_sample.push_back(e.path);
    }
  }
  return plan;
}

}  // namespace mig::sync
