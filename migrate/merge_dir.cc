#include "migrate/merge_dir.h"

#include <unistd.h>

#include <filesystem>

#include "agent/client.h"
#include "origin/origin.h"
#include "core/error.h"
#include "core/timer.h"
#include "core/progress.h"
#include "sync/apply.h"
#include "sync/source.h"

namespace fs = std::filesystem;

namespace mig {

nlohmann::json MergeDir(const std::string& src_dir, const std::string& dst_dir, const MergeDirOptions& o) {
  std::error_code ec;
  const bool remote = !o.from.empty();
  if (!remote && !fs::is_directory(src_dir, ec)) BadInput("the source " + src_dir + " is not a folder");
  if (remote && (src_dir.empty() || src_dir[0] != '/')) BadUsage("with --from, SRC is an absolute path on that host");
  std::string s = remote ? src_dir : fs::canonical(src_dir).string();
  // Absolute first: weakly_canonical keeps a relative path that does not exist yet as it is,
  // and its parent would then be ""; nor does it drop a trailing '/' of a path that does not exist.
  std::string d = fs::weakly_canonical(fs::absolute(dst_dir)).string();
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  if (!remote && (s == d || d.rfind(s + "/", 0) == 0 || s.rfind(d + "/", 0) == 0))
    BadInput("the source " + s + " and the target " + d + " overlap");
  if (fs::exists(d, ec) && !fs::is_directory(fs::symlink_status(d, ec)))
    BadInput("the target " + d + " exists and is not a folder");
  Stopwatch sw;
  // The agent's listing is spooled beside the target (the target itself may not exist yet).
  const std::string spool = fs::path(d).parent_path().string();
  if (!fs::is_directory(spool, ec)) BadInput("the folder the target goes into, " + spool + ", does not exist");
  OriginSpec spec;
  spec.from = o.from;
  spec.ssh = o.ssh;
  spec.sudo = o.sudo;
  spec.via_agent = o.via_agent;
  std::unique_ptr<Origin> origin = OpenOrigin(spec);
  std::unique_ptr<sync::Source> source = origin->OpenTree(s, spool);
  // No total: sizing the source first would cost a walk of its own (the pipeline has the
  // preflight's figure).
  Progress progress("merge", 0, o.dry_run ? ProgressMode::kQuiet : ProgressModeFor(o.quiet, o.json));
  sync::MergeOptions mo;
  mo.checksum = o.checksum;
  mo.dry_run = o.dry_run;
  mo.chunk_items = o.chunk_items;
  mo.apply.set_owner = ::geteuid() == 0;
  mo.apply.progress = [&](const sync::ApplyStats& st) { progress.Update(st.items_done, st.source_bytes_done, st.bytes_written); };
  sync::MergeResult r = sync::Merge(*source, d, mo);
  progress.Done();
  const auto& t = r.totals;
  const auto& st = r.stats;
  nlohmann::json j = {{"plan", {{"create", t.create}, {"replace", t.replace}, {"attrs", t.attrs},
                                {"skip", t.skip}, {"kept_target_only", t.kept}, {"bytes_to_copy", t.bytes_to_copy}}}};
  j["seconds"] = sw.seconds();
  if (o.dry_run) {
    origin->Close();
    return j;
  }
  j["files_written"] = st.files_written;
  j["bytes_written"] = st.bytes_written;
  j["hashes_checked"] = st.hashes_checked;
  j["attrs_updated"] = st.attrs_updated;
  j["syncs"] = st.syncs;
  origin->Close();
  if (auto* agent_src = dynamic_cast<agent::AgentSource*>(source.get())) {
    nlohmann::json wire = origin->Wire();
    j["agent"] = {{"bytes_in", wire["bytes_received"]}, {"bytes_out", wire["bytes_sent"]},
                  {"delta_files", agent_src->delta_files()}};
  }
  return j;
}

}  // namespace mig
