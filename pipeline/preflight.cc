#include "pipeline/preflight.h"

#include <future>
#include <set>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "db/physical.h"
#include "db/replay.h"
#include "docker/engine_api.h"
#include "install/legacy.h"
#include "install/room.h"
#include "install/stack.h"
#include "pipeline/run_dir.h"

namespace mig {

namespace {

// The running postgres container of an install, started when it is down (not in a dry run).
std::string EnsureDb(const Options& o, const docker::Stack& stack, const Install& in, Report& rep, bool& started) {
  if (o.dry_run) {
    std::string c = stack.RunningContainer(in.db_service);
    if (c.empty()) rep.Check(in.role + " postgres", true, "not running: a real run starts service " + in.db_service);
    return c;
  }
  return EnsureDbRunning(stack, in, o.wait_seconds, started);
}

// The database method (docs/physical-db.md), recorded as the check "database method".
void ChooseMethod(const Options& o, Sides& s, int target_major, Report& rep) {
  db::PhysicalFacts f;
  f.src_major = s.src_major;
  f.dst_major = target_major;
  f.src_db = s.from.pg.db;
  f.dst_db = s.to.pg.db;
  // --two-phase copies the database as files when it can (docs/cutover.md): asked as auto
  const db::DbMethod want = o.two_phase && !o.db_method_given ? db::DbMethod::kAuto : o.db_method;
  // The source's folder, asked beside the target's where its engine is this machine's too: the
  // copy is then written there as files and moved over (docs/physical-db.md "Both clusters on
  // this host"). Any failure only leaves the copy streamed.
  std::future<std::optional<db::ClusterHome>> source_home;
  if (want != db::DbMethod::kLogical && !o.two_phase && !docker::api::SocketFor(s.src_pg->host()).empty())
    source_home = std::async(std::launch::async, [&s]() -> std::optional<db::ClusterHome> {
      std::string problem;
      db::ClusterHome h = db::FindClusterHome(*s.src_pg, problem);
      if (problem.empty()) h.here = db::ClusterFolderHere(h);
      if (h.here.empty()) return std::nullopt;
      return h;
    });
  if (want != db::DbMethod::kLogical) {  // the logical path asks nothing more
    for (const auto& row : s.src_pg->Query(
             "SELECT (SELECT rolsuper OR rolreplication FROM pg_roles WHERE rolname = current_user), datname "
             "FROM pg_database", "postgres")) {
      const auto fields = db::Fields(row);
      if (fields.size() != 2) continue;
      f.src_can_back_up = fields[0] == "t";
      f.src_databases.push_back(fields[1]);
    }
  }
  std::optional<db::ClusterHome> home;
  if (want != db::DbMethod::kLogical) {
    home = db::FindClusterHome(*s.dst_pg, f.dst_home_problem);
    // Staged and swapped from this process where its folder is here (docs/physical-db.md).
    if (f.dst_home_problem.empty() && !docker::api::SocketFor(s.dst_pg->host()).empty())
      home->here = db::ClusterFolderHere(*home);
  }
  s.db_method = o.two_phase ? db::ChooseTwoPhaseMethod(o.db_method, o.db_method_given, f) : db::ChooseDbMethod(want, f);
  if (s.db_method.method == db::DbMethod::kPhysical) s.dst_home = home;
  std::string how = db::DbMethodName(s.db_method.method) + ": " + s.db_method.why;
  std::optional<db::ClusterHome> src_here;
  try {
    if (source_home.valid()) src_here = source_home.get();
  } catch (const std::exception& e) {
    TheLog().info(std::string("the source's data directory was not found on this host (") + e.what() +
                  "): the copy is streamed");
  }
  if (s.dst_home && src_here && db::PlainCopyCanBeMoved(*src_here, *s.dst_home)) {
    s.src_home = src_here;
    how += "; written as files by the source's pg_basebackup in " + src_here->here + " and moved into " +
           s.dst_home->here + " (both on this host)";
  } else if (s.dst_home && !s.dst_home->here.empty()) {
    how += "; staged and swapped in on this host, in " + s.dst_home->here;
  }
  // The copy's session to the source (its WAL held in it) opens now, its login beside the safety
  // copy (CopyDatabase takes it).
  if (!o.dry_run && !o.two_phase && s.db_method.method == db::DbMethod::kPhysical && !s.src_session)
    s.src_session = std::make_unique<db::OpeningSession>(*s.src_pg, s.from.pg.db);
  if (o.two_phase && s.db_method.method == db::DbMethod::kPhysical) {
    std::string problem;
    s.src_home = db::FindClusterHome(*s.src_pg, problem);
    if (!problem.empty()) BadInput("--two-phase reads the stopped old cluster's last WAL, but " + problem);
  } else if (o.two_phase) {
    how += "; --two-phase replays the dump inside the downtime, which then grows with the database";
  }
  rep.Check("database method", true, how);
}

// A physical copy stopped between its swap and its credentials (docs/physical-db.md) left the
// target's cluster the source's: its credentials are re-applied before the target is probed.
void ResumeInterruptedCopy(const Options& o, const Install& to) {
  const std::string marker_file = CopyMarkerFile(MigrationRoot(o.temp_dir, to.dir));
  const std::optional<db::CopyMarker> marker = db::LoadCopyMarker(marker_file);
  if (!marker) return;
  if (o.dry_run) {
    TheLog().warn(marker_file + " names an interrupted physical copy: a run (not a dry run) re-applies the target's "
                  "credentials if they are still the source's");
    return;
  }
  if (db::ResumeCredentials(db::Postgres(to.pg), *marker))
    TheLog().warn("an interrupted physical copy left the target's cluster without its own credentials: " +
                  to.pg.user + " and database " + to.pg.db + " were given back");
}

void CheckDatabases(const Options& o, Origin& origin, Sides& s, Report& rep) {
  // The target (on this server) is found, started when it must be, and probed on a thread of
  // its own while the source answers. Its checks (a dry run's) are added after: Report is not
  // thread-safe.
  bool started_target = false;
  Report target_checks;
  std::future<std::optional<db::ServerInfo>> target_side =
      std::async(std::launch::async, [&o, &s, &target_checks, &started_target]() -> std::optional<db::ServerInfo> {
        s.to.pg.container = EnsureDb(o, *s.dst_stack, s.to, target_checks, started_target);
        if (s.to.pg.container.empty()) return std::nullopt;
        ResumeInterruptedCopy(o, s.to);
        return db::Postgres(s.to.pg).WaitReady(90, db::RetiredName(s.to.pg.db));
      });
  s.from.pg.container = EnsureDb(o, *s.src_stack, s.from, rep, s.started_source_db);
  if (!s.from.pg.container.empty()) {
    s.from.pg.dump_host = &origin.DumpHost();  // a remote dump streams through the agent
    s.src_pg.emplace(s.from.pg);
    // The replay's session to the source starts beside its probe (its `docker exec` and psql's
    // start, 0.2-0.4 s, were waited for at the replay's start); after it when the preflight has
    // just started postgres (not ready yet, its psql would end at once). One that failed anyway
    // is opened again by the replay (OpeningSession::Take, LiveDump).
    const bool session_ahead = !o.dry_run && !o.two_phase && o.db_method == db::DbMethod::kLogical;
    if (session_ahead && !s.started_source_db)
      s.src_session = std::make_unique<db::OpeningSession>(*s.src_pg, s.from.pg.db);
    db::ServerInfo si = s.src_pg->WaitReady(90, db::RetiredName(s.from.pg.db));
    if (session_ahead && !s.src_session) s.src_session = std::make_unique<db::OpeningSession>(*s.src_pg, s.from.pg.db);
    if (!si.db_exists)
      BadInput("the source database " + s.from.pg.db + " does not exist in " + s.from.project_name +
               " (is POSTGRES_DB right in " + s.from.dir + "/.env?)");
    s.src_db_bytes = static_cast<uint64_t>(si.db_size);
    s.src_major = si.major;
    rep.Check("source postgres", true,
              s.from.pg.db + " in " + s.from.project_name + ", postgres " + std::to_string(si.major) + ", " +
                  HumanBytes(s.src_db_bytes));
  }
  std::optional<db::ServerInfo> target = target_side.get();
  for (const auto& c : target_checks.checks) rep.checks.push_back(c);
  if (!target) return;
  s.dst_pg.emplace(s.to.pg);
  db::ServerInfo ti = *target;
  if (!ti.db_exists && ti.retired_exists && !o.dry_run) {
    db::RepairInterruptedSwap(*s.dst_pg);
    TheLog().warn("an interrupted run left the target database renamed: it was put back");
    ti = s.dst_pg->Probe(db::RetiredName(s.to.pg.db));
  }
  if (!ti.db_exists)
    BadInput("the target database " + s.to.pg.db + " does not exist in " + s.to.project_name +
             ": start the new release once so that it initialises its database");
  if (!ti.superuser)
    BadInput("the target's user " + s.to.pg.user + " is not a superuser: the replay creates and renames "
             "databases and roles; use the postgres service's POSTGRES_USER");
  if (s.src_major && ti.major < s.src_major)
    BadInput("the target runs postgres " + std::to_string(ti.major) + ", older than the source's " +
             std::to_string(s.src_major) + ": a dump cannot go back to an older major version");
  s.dst_db_bytes = static_cast<uint64_t>(ti.db_size);
  rep.Check("target postgres", true,
            s.to.pg.db + " in " + s.to.project_name + ", postgres " + std::to_string(ti.major) + ", " +
                HumanBytes(s.dst_db_bytes));
  if (s.src_pg) ChooseMethod(o, s, ti.major, rep);
}

}  // namespace

void CheckPorts(const Install& to) {
  std::set<int> seen;
  for (const auto& s : to.project.services)
    for (const auto& p : s.ports) {
      if (p.host_port == 0 || !seen.insert(p.host_port).second) continue;
      auto holders = docker::ContainersPublishing(p.host_port, to.project_name);
      if (!holders.empty())
        Fail("port " + std::to_string(p.host_port) + " of service " + s.name + " is held by " + holders.front() +
             ": stop the old stack first (run again with --stop-old), give the new release another port, "
             "or use --no-restart");
    }
}

namespace {

// A legacy release (docs/legacy.md): recorded as the check "legacy layout"; when its database's
// volume is not the project's own, the project is the one whose postgres_data it is.
void RecognizeLegacy(const Options& o, const Host& there, Sides& s, Report& rep) {
  s.legacy = LegacyReason(s.from.legacy_paths);
  if (s.legacy.empty()) return;
  std::string db = "database not carried (--skip-db)";
  if (!o.skip_db) {
    const std::string key = DbVolumeKey(s.from.project, s.from.db_service);
    const auto named = s.from.project.volume_names.find(key);
    if (key.empty()) {
      db = "the database service " + s.from.db_service + " keeps no named volume";
    } else if (named != s.from.project.volume_names.end() && named->second != s.from.project.name + "_" + key) {
      s.legacy_db_volume = named->second;  // its compose file names it: as any release
      db = "database volume " + named->second;
    } else {
      const LegacyDbVolume v =
          ChooseLegacyDbVolume(key, s.from.project_name, s.from.version, docker::VolumeNames(there), o.from_project);
      s.legacy_db_volume = v.volume;
      if (v.project != s.from.project_name) {
        TheLog().info("the legacy release's database is in the volume " + v.volume + ": the source runs as project " +
                      v.project + " (not " + s.from.project_name + ")");
        s.from.project_name = v.project;
      }
      db = "database volume " + v.volume + " (project " + v.project + ")";
    }
  }
  rep.Check("legacy layout", true,
            s.legacy + "; carried to the same paths: " + Joined(s.from.legacy_paths) +
                "; .env edits into custom.env; " + db);
}

}  // namespace

void Preflight(const Options& o, Origin& origin, Install from, Install to, Report& rep, Sides& s) {
  Step step(rep, "preflight");
  s.from = std::move(from);
  s.to = std::move(to);
  // This server's engine and compose are asked on a thread of their own while the old server
  // answers (its programs run through migrate-agent: docs/remote.md).
  auto this_engine = std::async(std::launch::async, [] { return docker::EngineVersion(); });
  auto this_compose = std::async(std::launch::async, [] { return docker::DetectCompose(); });
  // The new release's ports and where this engine keeps its volumes are asked beside the rest
  // (the answers are looked at where their checks are recorded).
  const bool check_ports = !o.no_restart && !o.stop_old && !o.two_phase;  // both stop the old release first
  std::future<void> ports;
  if (check_ports) ports = std::async(std::launch::async, [&to = s.to] { CheckPorts(to); });
  std::future<std::string> docker_root;
  if (!o.skip_db) docker_root = std::async(std::launch::async, [] { return DockerRootDir(); });
  const bool second_engine = !origin.SharesEngineWithThisHost();
  const Host& there = origin.host();
  std::future<std::string> there_engine;
  if (second_engine) there_engine = std::async(std::launch::async, [&there] { return docker::EngineVersion(there); });
  const std::string shown = origin.Show(s.from.dir);
  // The old server's compose is waited for only by its stack's compose commands, and at the
  // end of this step: the rest of the step does not need it (v1 there takes a second to answer).
  std::shared_future<docker::ComposeTool> there_tool;
  if (second_engine) there_tool = std::async(std::launch::async, [&there] { return docker::DetectCompose(there); }).share();
  const bool has_data = o.skip_data || origin.IsFolder(s.from.data_dir());
  const std::string engine = this_engine.get();
  const docker::ComposeTool tool = this_compose.get();
  rep.Check("docker engine", true, engine);
  rep.Check("compose", true, CommandLine(tool.argv) + " " + tool.version);
  if (second_engine) rep.Check("old server's docker engine", true, there_engine.get() + " on " + origin.Where());
  RecognizeLegacy(o, there, s, rep);
  if (!second_engine && s.from.project_name == s.to.project_name)
    BadInput("the old release " + shown + " and the new one " + s.to.dir + " are one compose project (" +
             s.to.project_name + ") on this engine: compose would take either's containers for the other's (the "
             "new release's start would replace the old's, and the old's stop would stop the new); give the new "
             "release a project name of its own (--to-project, COMPOSE_PROJECT_NAME in its .env, or another "
             "folder name)");
  if (second_engine)
    s.src_stack.emplace(there_tool, s.from.dir, s.from.project.file, s.from.project_name, there);
  else
    s.src_stack.emplace(tool, s.from.dir, s.from.project.file, s.from.project_name, there);
  s.dst_stack.emplace(tool, s.to.dir, s.to.project.file, s.to.project_name);
  if (!o.skip_data) {
    s.source_data = has_data;
    if (!has_data && s.legacy.empty())
      BadInput("the source " + shown + " has no data/ folder (use --skip-data to migrate only the database)");
    rep.Check("source data/", true, has_data ? shown + "/data" : "none (a legacy release: its root paths are carried)");
  }
  if (!o.skip_db) CheckDatabases(o, origin, s, rep);
  if (check_ports) {
    ports.get();
    rep.Check("web ports free", true, "no other stack holds the new release's published ports");
  }
  // Room: the data to copy and the target's dump beside the target; the staging database
  // (about the source's size) where docker keeps its volumes.
  if (!o.skip_data && s.source_data) s.data_bytes = origin.TreeBytes(s.from.data_dir());
  RoomVerdict here = TargetRoom(s.to.dir, s.data_bytes, s.dst_db_bytes);
  rep.Check("free space in target", here.ok, here.detail);
  if (!here.ok) Fail(here.error);
  if (!o.skip_db) {
    RoomVerdict db_room = DatabaseRoom(docker_root.get(), s.src_db_bytes);
    if (!db_room.where.empty()) {
      rep.Check("free space for the database", db_room.ok, db_room.detail);
      if (!db_room.ok) Fail(db_room.error);
    }
  }
  if (second_engine) {
    const docker::ComposeTool& t = there_tool.get();
    rep.Check("old server's compose", true, CommandLine(t.argv) + " " + t.version);
  }
  step.Done();
}

}  // namespace mig
