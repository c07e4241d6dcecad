#include "restore/swarm_restore.h"

#include <filesystem>
#include <future>
#include <iostream>
#include <optional>
#include <set>
#include <thread>

#include "backup/swarm_plan.h"
#include "backup/volume.h"
#include "compose/rewrite.h"
#include "core/error.h"
#include "core/files.h"
#include "core/interrupt.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "db/replay.h"
#include "docker/node_map.h"
#include "docker/swarm.h"
#include "install/install.h"
#include "pipeline/confirm.h"
#include "pipeline/replay_step.h"
#include "pipeline/run_dir.h"
#include "pipeline/safety_copy.h"
#include "restore/config_step.h"
#include "restore/data_step.h"
#include "restore/skips.h"
#include "restore/swarm_steps.h"

namespace fs = std::filesystem;

namespace mig {

using backup::SwarmPart;

namespace {

std::string MapText(const docker::NodeMap& map) {
  std::vector<std::string> v;
  for (const auto& o : map.needed) v.push_back(o.hostname + " -> " + map.to.at(o.hostname).hostname);
  return Joined(v);
}

void MakeFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) Fail("cannot make " + dir + ": " + ec.message());
}

// The running task of `service` (its Swarm name) in `s`, or nullptr.
const docker::Task* RunningTask(const docker::Swarm& s, const std::string& service) {
  for (const auto& t : s.tasks)
    if (t.service == service && t.running() && !t.node.empty()) return &t;
  return nullptr;
}

}  // namespace

Report RestoreOntoSwarm(const RestoreOptions& o, RestoreSource& source, const std::string& dir, bool fresh, Report rep) {
  const backup::Manifest& m = source.manifest();
  const SwarmPart& sp = *m.swarm;
  // The stack restored: the backup's, or --project's (its volumes then named after it).
  const std::string stack = o.project.empty() ? sp.stack : o.project;
  const std::string db_service = m.db ? m.db->service : o.db_service;
  const std::string db_task_service = stack + "_" + db_service;
  std::string run_dir, root = dir + (o.migration ? "/migration" : "/restore");
  std::optional<Install> in;
  std::vector<std::string> volumes_written;  // "node: mount point"
  bool data_swapped = false, db_swapped = false, stack_removed = false;
  RunState state;
  // SIGTERM and SIGINT (a restore, not a dry run): taken from the start, before the nodes'
  // connections start threads of their own, and acted on after the question (armed there): the
  // programs running are stopped and the restore stops at its next step, failing with what it
  // replaced so far (a re-run resumes it). From the database's swap on a signal is only
  // recorded: the restore finishes (Hold).
  std::optional<InterruptGuard> interrupt;
  std::optional<InterruptGuard::Hold> finishing;
  if (!o.dry_run && !o.migration) interrupt.emplace(false);
  try {
    if (o.standby) BadInput("a standby of a stack on a Swarm is not supported: restore it with migrate restore");
    // The target Swarm, its nodes, and whether the stack is deployed there.
    docker::Swarm target;
    std::optional<docker::Swarm> running;  // the stack as it runs now, when deployed
    {
      Step step(rep, "target swarm");
      const docker::SwarmInfo info = docker::ProbeSwarm();
      target = docker::ReadSwarmNodes(info);
      if (docker::Stacks().count(stack)) running = docker::ReadSwarm(stack, info);
      step.Done(std::to_string(target.nodes.size()) + " nodes; stack " + stack +
                (running ? " deployed (it is removed for the restore, its volumes kept)" : " not deployed"));
    }
    if (!fresh) {
      in.emplace(LoadInstall(dir, "target", o.skip_db ? "" : db_service, o.project, ProcessEnv()));
      if (in->project_name != stack)
        BadInput("backup " + m.timestamp + " is of the stack " + sp.stack + ", " + dir + " is the install of " +
                 in->project_name + ": restore into a folder of its own, or say --project " + in->project_name +
                 " to restore it as that stack (its volumes named after it)");
      if (!o.migration && !m.version.empty() && m.version != in->version && !o.yes)
        BadInput("backup " + m.timestamp + " is of release " + m.version + ", this install is " +
                 (in->version.empty() ? std::string("of no VERSION") : "release " + in->version) + ": add --yes to "
                 "restore it anyway");
    }
    // What is written: --skip SERVICE leaves that service's volumes (or the database) as they are.
    std::vector<std::string> names;
    for (const auto& svc : sp.services) names.push_back(svc.name);
    for (const auto& s : o.skip)
      if (std::find(names.begin(), names.end(), s) == names.end())
        BadInput("--skip " + s + ": the stack " + stack + " has no such service (its services: " + Joined(names) + ")");
    auto skipped = [&](const std::string& s) { return std::find(o.skip.begin(), o.skip.end(), s) != o.skip.end(); };
    const bool skip_db = o.skip_db || !m.db || skipped(db_service);
    std::vector<VolumeWrite> writes;
    for (const auto& v : sp.volumes)
      if (!skipped(v.service)) writes.push_back({&v, "", StackVolume(v.name, sp.stack, stack)});

    // The node map: complete, or written for the operator to fill in.
    const std::vector<docker::OldNode> old = OldNodes(sp);
    docker::NodeMap map;
    {
      Step step(rep, "node map");
      docker::NodePairs pairs;
      if (!o.node_map_file.empty()) {
        auto text = ReadSmallFile(o.node_map_file);
        if (!text) BadInput("there is no node map " + o.node_map_file + " (--node-map-file)");
        pairs = docker::ParseNodeMapFile(*text, o.node_map_file);
      }
      for (const auto& a : o.node_map) pairs.push_back(docker::ParseNodeMapArg(a));
      map = docker::MapNodes(old, NeededNodes(sp, writes, old), target.nodes, pairs);
      if (!map.complete()) {
        const std::string path = dir + "/restore-node-map.json";
        MakeFolder(dir);
        WriteFileAtomic(path, docker::NodeMapFileText(map.needed, map.to));
        std::vector<std::string> missing, here;
        for (const auto& n : map.missing) missing.push_back(n.hostname + " (" + n.address + ", " + n.role + ")");
        for (const auto& n : target.nodes) here.push_back(n.hostname + " (" + n.address + ")");
        BadInput("the backup's nodes " + Joined(missing) + " are not mapped onto nodes of this Swarm (" + Joined(here) +
                 "): fill in \"new\" for each in " + path + " (a hostname or address), then run again with "
                 "--node-map-file " + path + " (or give --node-map OLD=NEW); nothing was changed");
      }
      step.Done(MapText(map));
    }
    for (auto& w : writes) w.node = map.to.at(w.v->node).hostname;
    for (const auto& svc : sp.services) {
      const bool has_volume =
          std::any_of(writes.begin(), writes.end(), [&](const VolumeWrite& w) { return w.v->service == svc.name; });
      if (has_volume && docker::NodesNamedBy(svc.constraints, old, true).empty())
        TheLog().warn("service " + svc.name + " mounts a volume but no node.hostname/node.id constraint pins it: Swarm "
                      "may start it on another node than the one its volume is restored on");
    }

    // Every mapped node answers over SSH as itself, those written to with GNU tar and volumes
    // that are local folders; the database as it runs now is reached through its node: all
    // checked before anything changes.
    backup::NodeHosts hosts(target, o.nodes);
    std::vector<std::string> stack_nodes;  // the nodes written to, and the database's: nothing of the stack left there
    std::optional<db::Postgres> before;    // the database the stack runs now
    {
      Step step(rep, "nodes");
      std::vector<std::string> opened;
      for (const auto& o2 : map.needed) {
        const std::string& n = map.to.at(o2.hostname).hostname;
        if (std::find(opened.begin(), opened.end(), n) != opened.end()) continue;
        hosts.Open(n);
        opened.push_back(n);
      }
      for (const auto& w : writes) {
        if (std::find(stack_nodes.begin(), stack_nodes.end(), w.node) != stack_nodes.end()) continue;
        backup::RequireGnuTar(hosts.Of(w.node));
        stack_nodes.push_back(w.node);
      }
      CheckVolumeKinds(hosts, writes);
      if (running && !skip_db)
        if (const docker::Task* t = RunningTask(*running, db_task_service)) {
          hosts.Open(t->node);
          if (std::find(stack_nodes.begin(), stack_nodes.end(), t->node) == stack_nodes.end())
            stack_nodes.push_back(t->node);
          db::PgTarget pt = LoadInstall(dir, "target", db_service, o.project, ProcessEnv()).pg;
          pt.container = docker::TaskContainer(hosts.Of(t->node), db_task_service, t->node, t->id);
          pt.host = &hosts.Of(t->node);
          pt.label = "current";
          before.emplace(pt);
          const int major = before->Probe(db::RetiredName(pt.db)).major;
          if (major < m.db->major)
            BadInput("backup " + m.timestamp + " holds a postgres " + std::to_string(m.db->major) + " database; the "
                     "stack's " + db_service + " runs postgres " + std::to_string(major) + ", which cannot read it: "
                     "restore into a release with postgres " + std::to_string(m.db->major) + " or newer");
        }
      step.Done(Joined(opened) + " answer over SSH, each as itself");
    }
    if (o.dry_run) {
      if (o.migration && !o.skip_data) source.MergeData(*in, true, rep);  // the step "plan data/"
      Step step(rep, "plan");
      std::vector<std::string> vs;
      for (const auto& w : writes) vs.push_back(w.name + " on " + w.node + " (" + HumanBytes(w.v->bytes) + ")");
      std::string d = "nodes: " + MapText(map) + "; volumes: " + (vs.empty() ? std::string("none") : Joined(vs)) +
                      "; database: " + (skip_db ? std::string("kept as it is") : "replaced by the backup's (" +
                                        std::to_string(m.db->state.tables.size()) + " tables)") +
                      "; data/: " + (o.skip_data ? std::string("kept as it is")
                                     : o.migration ? std::string("merged from the old install (rsync -a rules)")
                                                   : std::to_string(m.files) + " files") +
                      "; stack " + stack + (running ? ": removed, then deployed again" : ": deployed");
      if (!o.quiet && !o.json) std::cout << d << "\n";
      step.Done(d);
      rep.result = "ok";
      return rep;
    }

    ConfirmOrCancel(o.yes, "Replace the stack " + stack + "'s volumes and database on this Swarm (and " + dir +
                               "'s data/) with " + source.Describe());
    if (interrupt) interrupt->Arm();
    MakeFolder(dir);
    JobLock lock(JobLockPath(dir), "another job (backup, restore or migration) is running on " + dir);
    lock.Describe("restore of " + m.timestamp);
    RunDir rd = OpenRunDir(root);
    run_dir = rd.path;
    rep.resumed = rd.resumed;
    rep.migration_dir = run_dir;
    TheLog().open_file(run_dir + "/restore.log");
    TheLog().info(std::string(rd.resumed ? "resuming" : "starting") + " the restore of backup " + m.timestamp + " (" +
                  m.id + ") onto the Swarm, nodes " + MapText(map));

    // The configuration, its constraints naming the new nodes, checked before the stack is touched.
    std::string db_alone;  // the compose text of the database's service alone
    {
      Step step(rep, "restore configuration");
      std::vector<std::string> files;
      if (fresh || o.with_config) files = RestoreConfig(source, dir, run_dir, fresh);
      in.emplace(LoadInstall(dir, "target", skip_db ? "" : db_service, o.project, ProcessEnv()));
      const int rewritten = RewritePlacement(*in, sp, old, map, run_dir);
      if (rewritten) in.emplace(LoadInstall(dir, "target", skip_db ? "" : db_service, o.project, ProcessEnv()));
      CheckPlacement(*in, sp, old, map);
      if (!skip_db) db_alone = compose::OneServiceText(compose::ReadFile(in->project.file), in->project.file, db_service);
      step.Done((files.empty() ? std::string() : Joined(files) + "; ") + std::to_string(rewritten) +
                " placement constraints rewritten");
    }
    const Keep keep = ResolveSkips(in->project, in->data_dir(), in->db_service, o.skip);
    const bool skip_data = o.skip_data || keep.data;
    InterruptGuard::StopIfInterrupted();
    {
      Step step(rep, "safety copy");
      SafetyCopyInput sc;
      sc.run_dir = run_dir;
      if (!skip_data) sc.data_dir = in->data_dir();
      if (before) sc.dump_target = [&before](const std::string& path) { return before->DumpToFile(path); };
      step.Done(SafetyCopy(sc, state).detail);
    }
    InterruptGuard::StopIfInterrupted();
    if (running) {
      Step step(rep, "stop stack");
      stack_removed = true;
      docker::RemoveStack(stack, std::chrono::seconds(o.wait_seconds));
      for (const auto& n : stack_nodes) WaitNoContainers(hosts.Of(n), n, stack, o.wait_seconds);
      step.Done("docker stack rm " + stack + " (its volumes kept)");
    }
    const std::map<std::string, std::string> env = DeployEnv(*in);
    InterruptGuard::StopIfInterrupted();
    {
      // Deployed alone (the others must not write into it meanwhile), from beside the compose
      // file (relative paths in it are the folder's): it starts while the volumes are written.
      Step step(rep, "deploy database");
      if (skip_db) {
        step.Skip("the database is not restored");
      } else {
        const std::string one = in->dir + "/." + db_service + "-alone.migrate.yml";
        WriteFileAtomic(one, db_alone);
        try {
          docker::DeployStack(one, stack, o.resolve_image, env);
        } catch (...) {
          std::error_code ec;
          fs::remove(one, ec);
          throw;
        }
        std::error_code ec;
        fs::remove(one, ec);
        step.Done(db_service + " alone, as the stack " + stack);
      }
    }

    // A migration's --stop-old: the old stack's writers before the copy, its database after it.
    auto stop_old = [&](const char* name, bool db_too, const char* otherwise) {
      if (!o.migration) return;
      Step step(rep, name);
      const std::string d = source.StopWriters(db_too);
      if (d.empty())
        step.Skip(otherwise);
      else
        step.Done(d);
    };
    stop_old("stop old services", false, "the old stack runs on while it is copied (--stop-old stops its writers first)");
    // data/ is staged on a thread of its own while the volumes are written (a migration merges
    // it afterwards instead).
    std::optional<StagedData> staged;
    std::future<StagedData> staging;
    if (!skip_data && !o.migration)
      staging = std::async(std::launch::async, [&] {
        return StageData([&](const std::string& work) { source.Data(work, keep.paths); }, in->data_dir(),
                         StageWorkDir(in->data_dir(), run_dir + "/new"), keep.paths);
      });
    try {
      InterruptGuard::StopIfInterrupted();
      Step step(rep, "restore volumes");
      uint64_t total = 0;
      for (const auto& w : writes) total += w.v->bytes;
      Progress progress("volumes", total, ProgressModeFor(o.quiet, o.json));
      volumes_written = WriteVolumes(
          hosts, writes, stack, run_dir, [&](const SwarmPart::Volume& v) { return source.Volume(v); },
          [&](uint64_t b) { progress.Update(0, b, b); }, o.migration);
      progress.Done();
      rep.data["volumes"] = volumes_written;
      step.Done(volumes_written.empty() ? "none" : Joined(volumes_written) + ", " + HumanBytes(total));
    } catch (...) {
      if (staging.valid()) staging.wait();  // never leave the thread running
      throw;
    }
    if (o.migration && !skip_data) {
      data_swapped = true;  // merged into: data.backup holds what it was
      source.MergeData(*in, false, rep);  // the step "merge data/"
    } else {
      Step step(rep, "restore data/");
      if (skip_data) {
        step.Skip(o.skip_data ? "--skip-data" : "a skipped service mounts data/");
      } else {
        staged = staging.get();
        InterruptGuard::StopIfInterrupted();
        try {
          SwapData(*staged);
        } catch (...) {
          if (staged->in_place) data_swapped = true;  // what the undo could not put back: the safety copy
          throw;
        }
        data_swapped = true;
        step.Done(std::to_string(m.files) + " files, " + HumanBytes(m.bytes));
      }
    }
    {
      Step step(rep, "restore database");
      if (skip_db) {
        step.Skip(DbSkipReason(m.db.has_value(), o.skip_db, db_service));
      } else {
        const docker::Swarm s = docker::WaitStackRunning(stack, {db_service}, std::chrono::seconds(o.wait_seconds));
        const docker::Task* t = RunningTask(s, db_task_service);
        if (!t) Fail("the database's service " + db_task_service + " runs no task (docker service ps " + db_task_service + ")");
        hosts.Open(t->node);
        in->pg.container = docker::TaskContainer(hosts.Of(t->node), db_task_service, t->node, t->id);
        in->pg.host = &hosts.Of(t->node);
        in->pg.label = "restored";
        db::Postgres pg(in->pg);
        const db::ServerInfo info = pg.WaitReady(o.wait_seconds, db::RetiredName(in->pg.db));
        if (info.major < m.db->major)
          Fail("backup " + m.timestamp + " holds a postgres " + std::to_string(m.db->major) + " database; the stack's " +
               db_service + " runs postgres " + std::to_string(info.major) + ", which cannot read it: restore into a "
               "release with postgres " + std::to_string(m.db->major) + " or newer");
        // The database its volume held, when the stack did not run (no safety copy was taken then).
        if (info.db_exists && !fs::exists(run_dir + "/target-db.dump")) pg.DumpToFile(run_dir + "/target-db.dump");
        db::RepairInterruptedSwap(pg);
        auto dump = source.Dump();
        Progress progress("database", m.db->dump_bytes, ProgressModeFor(o.quiet, o.json));
        db::ReplayOptions ro;
        ro.progress = [&](uint64_t b) { progress.Update(0, b, b); };
        ro.keep_retired = true;
        ro.before_swap = [&] {
          InterruptGuard::StopIfInterrupted();
          if (interrupt) finishing.emplace();   // a signal from now on is only recorded...
          InterruptGuard::StopIfInterrupted();  // ...and one before it stops the restore here
        };
        db::ReplayResult r = db::Replay(*dump, pg, ro);
        progress.Done();
        db_swapped = true;
        rep.database = {{"tables", r.target.tables.size()}, {"sequences", r.target.sequences.size()},
                        {"dump_bytes", r.dump_bytes}, {"roles_created", r.roles_created}, {"node", t->node}};
        rep.Check("database row counts and sequences", true,
                  std::to_string(r.target.tables.size()) + " tables equal to the backup's manifest");
        try {
          db::DropRetired(pg, true);
        } catch (const Error& e) {
          TheLog().warn(e.what());
        }
        step.Done(std::to_string(r.target.tables.size()) + " tables on " + t->node + ", " + HumanBytes(r.dump_bytes));
      }
    }
    stop_old("stop old database", true, "the old stack runs on");
    if (skip_db && interrupt) {  // else held since the database's swap
      InterruptGuard::StopIfInterrupted();
      finishing.emplace();
    }
    std::vector<std::string> misplaced;
    {
      Step step(rep, "deploy");
      if (o.no_restart) {
        step.Skip("--no-restart: the stack is not deployed" +
                  (skip_db ? std::string() : " (its " + db_service + " runs alone)"));
      } else {
        docker::DeployStack(in->project.file, stack, o.resolve_image, env);
        const docker::Swarm s = docker::WaitStackRunning(stack, {}, std::chrono::seconds(o.wait_seconds));
        // Where the backup's pinned services ran, they run on the new nodes; replica counts as they were.
        for (const auto& svc : sp.services) {
          const docker::StackService* now = nullptr;
          for (const auto& x : s.services)
            if (x.short_name == svc.name) now = &x;
          if (!now) continue;
          std::vector<std::string> want;
          for (const auto& n : docker::NodesNamedBy(svc.constraints, old, true)) want.push_back(map.to.at(n).hostname);
          const auto on = s.NodesOf(now->name);
          const bool placed = std::all_of(on.begin(), on.end(), [&](const std::string& h) {
            return want.empty() || std::find(want.begin(), want.end(), h) != want.end();
          });
          const bool counted = svc.global || now->replicas == svc.replicas;
          const std::string what = std::to_string(s.Running(now->name)) + " running on " + Joined(on) +
                                   (svc.global ? std::string(" (global)")
                                               : ", " + std::to_string(now->replicas) + " replicas (" +
                                                     std::to_string(svc.replicas) + " in the backup)");
          rep.Check("service " + svc.name, placed && counted, what);
          if (!placed || !counted)
            misplaced.push_back(svc.name + ": " + what + (want.empty() ? "" : ", pinned to " + Joined(want)));
        }
        step.Done("stack " + stack + ": " + std::to_string(s.services.size()) + " services running");
      }
    }
    if (!misplaced.empty())
      Fail("the stack runs, but not as the backup's did: " + Joined(misplaced, "; ") +
           " (its compose file's deploy sections decide: " + in->project.file + ")");
    rep.result = "ok";
    source.Keep();
    for (const auto& s : source.NextSteps()) rep.next_steps.push_back(s);
    const std::string tag = fs::path(run_dir).filename().string();
    for (const auto& v : volumes_written)
      rep.next_steps.push_back("the volume's tree before the restore, on node " + v.substr(0, v.find(':')) + ": " +
                               v.substr(v.find(':') + 2) + ".before-" + tag + " (the next restore removes it)");
    if (!skip_data) rep.next_steps.push_back("data/ before the restore is in " + run_dir + "/data.backup");
    if (fs::exists(run_dir + "/target-db.dump"))
      rep.next_steps.push_back("the database before the restore: " + run_dir + "/target-db.dump (pg_restore -Fc)");
    if (fs::exists(run_dir + "/config.backup"))
      rep.next_steps.push_back("the configuration files it replaced are in " + run_dir + "/config.backup/");
    if (!InterruptGuard::Said().empty())
      TheLog().warn("the restore was " + InterruptGuard::Said() + " once it was replacing the stack: it finished");
    rep.Write(run_dir + "/report.json");
    CloseRunDir(root);
    return rep;
  } catch (const Error& e) {
    rep.result = "failed";
    // An interrupted restore fails with what stopped it first (the programs it stopped then
    // failed with words of their own).
    const std::string said = interrupt ? InterruptGuard::Said() : "";
    rep.error = said.empty() || std::string(e.what()) == said ? e.what() : said + ": " + e.what();
    const bool nothing = volumes_written.empty() && !data_swapped && !db_swapped;
    if (!run_dir.empty()) {
      if (nothing) rep.next_steps.push_back("no volume, no data/ and no database was replaced");
      for (const auto& v : volumes_written)
        rep.next_steps.push_back("replaced: the volume on " + v + " (its tree before is beside it, .before-" +
                                 fs::path(run_dir).filename().string() + ")");
      if (data_swapped)
        rep.next_steps.push_back(std::string(o.migration ? "merged into: " : "replaced: ") + "data/ (before: " + run_dir +
                                 "/data.backup)");
      if (db_swapped) rep.next_steps.push_back("replaced: the database");
      if (stack_removed)
        rep.next_steps.push_back("the stack " + stack + " was removed for the restore and is not deployed as a whole: "
                                 "running the same migrate restore again resumes it");
      rep.next_steps.push_back("running migrate restore again resumes this restore");
      try {
        rep.Write(run_dir + "/report.json");
      } catch (const Error&) {
      }
    }
    if (!said.empty())
      Fail("restore " + (nothing ? said + ": no volume, no data/ and no database was replaced" : rep.error) +
           (stack_removed ? "; the stack " + stack + " was removed for the restore and is not deployed" : "") +
           (run_dir.empty() ? "" : "; running migrate restore again resumes this restore"));
    throw;
  }
}

}  // namespace mig
