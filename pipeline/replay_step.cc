#include "pipeline/replay_step.h"

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"

namespace mig {

namespace {

nlohmann::json StateJson(const db::DbState& st) {
  nlohmann::json j = {{"tables", nlohmann::json::object()}, {"sequences", nlohmann::json::object()}};
  for (const auto& [k, v] : st.tables) j["tables"][k] = v;
  for (const auto& [k, v] : st.sequences) j["sequences"][k] = v;
  return j;
}

}  // namespace

void ReplayDatabase(const Options& o, Origin& origin, const Sides& s, Report& rep) {
  Step step(rep, "replay database");
  if (o.skip_db) {
    step.Skip("--skip-db");
    return;
  }
  Progress progress("database", 0, ProgressModeFor(o.quiet, o.json));  // a dump's size is not known ahead
  db::ReplayOptions ro;
  ro.progress = [&](uint64_t b) { progress.Update(0, b, b); };
  ro.keep_retired = true;
  db::LiveDump source(*s.src_pg, "the source");
  db::ReplayResult r = db::Replay(source, *s.dst_pg, ro);
  progress.Done();
  rep.database = {{"source", StateJson(r.source)}, {"target", StateJson(r.target)},
                  {"dump_bytes", r.dump_bytes}, {"roles_created", r.roles_created},
                  {"seconds", nlohmann::json::object()}};
  for (const auto& [name, secs] : r.timings) rep.database["seconds"][name] = secs;
  nlohmann::json wire = origin.Wire();
  if (!wire.is_null())  // the dump came through the agent (RUN): its bytes on the wire
    rep.database["wire"] = {{"via", "migrate-agent"}, {"agent_bytes_received", wire["bytes_received"]}};
  rep.Check("database row counts and sequences", true,
            std::to_string(r.source.tables.size()) + " tables, " + std::to_string(r.source.sequences.size()) +
                " sequences equal to the source");
  step.Done(std::to_string(r.source.tables.size()) + " tables, " + HumanBytes(r.dump_bytes) + " streamed");
  try {
    db::DropRetired(*s.dst_pg, true);
  } catch (const Error& e) {
    TheLog().warn(e.what());
    rep.Check("previous database dropped", false, e.what());
  }
}

std::string DbRollbackCommand(const Install& to, const std::string& run_dir) {
  const std::string& u = to.pg.user;
  return "docker exec -i " + to.pg.container + " sh -c 'dropdb -U " + u + " --force " + to.pg.db +
         " && pg_restore -U " + u + " --create -d postgres' < " + run_dir + "/target-db.dump";
}

}  // namespace mig
