#include "migrate/merge_dir.h"

#include <unistd.h>

#include <filesystem>

#include "agent/client.h"
#include "ssh/remote_agent.h"
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
  std::string d = fs::weakly_canonical(dst_dir).string();
  if (!remote && (s == d || d.rfind(s + "/", 0) == 0 || s.rfind(d + "/", 0) == 0))
    BadInput("the source " + s + " and the target " + d + " overlap");
  if (fs::exists(d, ec) && !fs::is_directory(fs::symlink_status(d, ec)))
    BadInput("the target " + d + " exists and is not a folder");
  Stopwatch sw;
  // The agent's listing is spooled beside the target (the target itself may not exist yet).
  const std::string spool = fs::path(d).parent_path().string();
  if (!fs::is_directory(spool, ec)) BadInput("the folder the target goes into, " + spool + ", does not exist");
  std::unique_ptr<ssh::Session> ssh_session;
  std::unique_ptr<agent::AgentSession> session;
  std::unique_ptr<sync::Source> source;
  if (remote) {
    ssh_session = std::make_unique<ssh::Session>(ssh::ParseTarget(o.from), o.ssh);
    session = ssh::StartRemoteAgent(*ssh_session, agent::AgentBesideMe(), o.sudo);
    source = std::make_unique<agent::AgentSource>(*session, s, ssh_session->target().Show() + ":" + s, spool);
  } else if (o.via_agent) {
    session = std::make_unique<agent::AgentSession>(agent::StartLocalAgent(agent::AgentBesideMe()));
    session->Handshake(MIGRATE_VERSION);
    source = std::make_unique<agent::AgentSource>(*session, s, s, spool);
  } else {
    source = sync::MakeLocalSource(s);
  }
  Progress progress("merge", 0, 0, o.quiet || o.json || o.dry_run);
  sync::MergeOptions mo;
  mo.checksum = o.checksum;
  mo.dry_run = o.dry_run;
  mo.chunk_items = o.chunk_items;
  mo.apply.set_owner = ::geteuid() == 0;
  mo.apply.progress = [&](const sync::ApplyStats& st) { progress.Update(st.items_done, st.bytes_written); };
  sync::MergeResult r = sync::Merge(*source, d, mo);
  progress.Done();
  const auto& t = r.totals;
  const auto& st = r.stats;
  nlohmann::json j = {{"plan", {{"create", t.create}, {"replace", t.replace}, {"attrs", t.attrs},
                                {"skip", t.skip}, {"kept_target_only", t.kept}, {"bytes_to_copy", t.bytes_to_copy}}}};
  j["seconds"] = sw.seconds();
  if (o.dry_run) {
    if (session) session->Close();
    return j;
  }
  j["files_written"] = st.files_written;
  j["bytes_written"] = st.bytes_written;
  j["hashes_checked"] = st.hashes_checked;
  j["attrs_updated"] = st.attrs_updated;
  j["syncs"] = st.syncs;
  if (session) {
    session->Close();
    j["agent"] = {{"bytes_in", session->bytes_in()}, {"bytes_out", session->bytes_out()},
                  {"delta_files", static_cast<agent::AgentSource&>(*source).delta_files()}};
  }
  return j;
}

}  // namespace mig
