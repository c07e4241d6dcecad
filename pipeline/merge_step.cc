#include "pipeline/merge_step.h"

#include <unistd.h>

#include <iostream>
#include <sstream>

#include "agent/client.h"
#include "core/progress.h"

namespace mig {

namespace {

nlohmann::json StatsJson(const sync::ApplyStats& s) {
  return {{"files_written", s.files_written}, {"bytes_written", s.bytes_written},
          {"hashes_checked", s.hashes_checked}, {"attrs_updated", s.attrs_updated},
          {"dirs_created", s.dirs_created}, {"symlinks_written", s.links_written},
          {"specials_written", s.specials_written}, {"removed", s.removed},
          {"stale_temps_removed", s.stale_temps_removed}, {"syncs", s.syncs},
          {"changed_during_copy", s.changed_during_copy}, {"vanished", s.vanished},
          {"skipped_devices", s.skipped_devices}};
}

}  // namespace

nlohmann::json PlanJson(const sync::PlanTotals& t) {
  return {{"source_entries", t.source_entries}, {"source_bytes", t.source_bytes}, {"create", t.create},
          {"replace", t.replace}, {"attrs", t.attrs}, {"skip", t.skip}, {"bytes_to_copy", t.bytes_to_copy},
          {"kept_target_only", t.kept}, {"removed_by_type_change", t.removed},
          {"stale_temps", t.stale_temps}};
}

std::string PlanLine(const sync::PlanTotals& t) {
  std::ostringstream o;
  o << "data/: " << t.create << " to create, " << t.replace << " to replace, " << t.attrs
    << " attributes to update, " << t.skip << " unchanged, " << t.kept << " target-only kept";
  if (t.removed) o << ", " << t.removed << " removed (a folder replaced by a file)";
  o << "; " << HumanBytes(t.bytes_to_copy) << " to copy";
  return o.str();
}

sync::MergeResult PlanData(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  Step step(rep, "plan data/");
  if (!s.source_data) {
    step.Skip("the source has no data/ (a legacy release)");
    return {};
  }
  auto src = origin.OpenTree(s.from.data_dir(), s.to.dir);
  sync::MergeOptions mo;
  mo.checksum = o.checksum;
  mo.dry_run = true;
  const bool show = o.show_plan && !o.quiet && !o.json;
  if (show) std::cout << "data/ changes:\n";
  mo.on_chunk = [&](const sync::Plan& chunk) {
    if (!show) return;
    for (const auto& it : chunk.items)
      if (it.action != sync::Action::kSkip)
        std::cout << "  " << sync::ActionName(it.action) << "  " << (it.src.path.empty() ? "." : it.src.path) << "\n";
  };
  sync::MergeResult plan = sync::Merge(*src, s.to.data_dir(), mo);
  rep.data["plan"] = PlanJson(plan.totals);
  std::string line = PlanLine(plan.totals);
  if (!o.quiet && !o.json) std::cout << line << "\n";
  step.Done(line);
  return plan;
}

sync::MergeResult MergeData(const Options& o, Origin& origin, const Sides& s, Report& rep, bool final_delta) {
  Step step(rep, final_delta ? "merge data/ (final delta)" : "merge data/");
  nlohmann::json& out = final_delta ? rep.data["final_delta"] : rep.data;
  if (o.skip_data) {
    step.Skip("--skip-data");
    return {};
  }
  if (!s.source_data) {
    step.Skip("the source has no data/ (a legacy release)");
    return {};
  }
  // The listing of a remote tree is spooled beside the target's data/ (docs/streaming-merge.md).
  auto src = origin.OpenTree(s.from.data_dir(), s.to.dir);
  Progress progress("data/", s.data_bytes, ProgressModeFor(o.quiet, o.json));  // against the preflight's size
  sync::MergeOptions mo;
  mo.checksum = o.checksum;
  mo.apply.set_owner = ::geteuid() == 0;
  mo.apply.progress = [&](const sync::ApplyStats& st) { progress.Update(st.items_done, st.source_bytes_done, st.bytes_written); };
  sync::MergeResult r = sync::Merge(*src, s.to.data_dir(), mo);
  const sync::ApplyStats& stats = r.stats;
  out["plan"] = PlanJson(r.totals);
  progress.Done();
  out["merge"] = StatsJson(stats);
  nlohmann::json wire = origin.Wire();
  if (!wire.is_null()) {
    if (auto* agent_src = dynamic_cast<agent::AgentSource*>(src.get())) wire["delta_files"] = agent_src->delta_files();
    out["wire"] = wire;
  }
  rep.Check("data/ content hashes", stats.hashes_checked >= stats.files_written,
            std::to_string(stats.hashes_checked) + " files read back and matched");
  step.Done(std::to_string(stats.files_written) + " files (" + HumanBytes(stats.bytes_written) + ") written, " +
            std::to_string(stats.attrs_updated) + " attributes updated, " + std::to_string(r.totals.skip) +
            " unchanged, " + std::to_string(r.totals.kept) + " target-only kept" +
            (stats.vanished ? ", " + std::to_string(stats.vanished) + " deleted at the source since the listing (not copied)" : ""));
  return r;
}

}  // namespace mig
