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

namespace fs = std::filesystem;

namespace mig {

namespace {

using backup::SwarmPart;

std::vector<docker::OldNode> OldNodes(const SwarmPart& sp) {
  std::vector<docker::OldNode> v;
  for (const auto& n : sp.nodes) v.push_back({n.id, n.hostname, n.address, n.role});
  return v;
}

// The old nodes the restore needs mapped: each written volume's, the database's, and each node
// a constraint names (its service would otherwise wait for a node that is not there).
std::vector<std::string> NeededNodes(const SwarmPart& sp, const std::vector<const SwarmPart::Volume*>& volumes,
                                     const std::string& db_service, const std::vector<docker::OldNode>& old) {
  std::vector<std::string> out;
  auto add = [&](const std::string& h) {
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  };
  for (const auto* v : volumes) add(v->node);
  for (const auto& svc : sp.services) {
    if (svc.name == db_service)
      for (const auto& n : svc.nodes) add(n);
    for (const auto& n : docker::NodesNamedBy(svc.constraints, old)) add(n);
  }
  return out;
}

std::string MapText(const docker::NodeMap& map) {
  std::vector<std::string> v;
  for (const auto& o : map.needed) v.push_back(o.hostname + " -> " + map.to.at(o.hostname).hostname);
  return Joined(v);
}

// Waits until no container of `stack` is left on `host` (a removed stack's tasks end on their
// nodes after the manager forgot them): a volume is written only when nothing has it mounted.
void WaitNoContainers(const Host& host, const std::string& node, const std::string& stack, int seconds) {
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);;) {
    ProcResult r = host.Run({"docker", "ps", "-aq", "--filter", "label=com.docker.stack.namespace=" + stack}, {},
                            std::chrono::seconds(30));
    if (!r.ok()) Fail("docker ps on node " + node + " failed: " + r.last_error_line());
    if (r.out.find_first_not_of(" \n") == std::string::npos) return;
    if (std::chrono::steady_clock::now() > until)
      Fail("containers of the stack " + stack + " were still on node " + node + " " + std::to_string(seconds) +
           " s after docker stack rm (docker ps -a there)");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// The variables `docker stack deploy` interpolates the compose file with, as compose would:
// the install's .env where the process's environment does not set them.
std::map<std::string, std::string> DeployEnv(const Install& in) {
  std::map<std::string, std::string> env;
  const compose::Env proc = ProcessEnv();
  for (const auto& [k, v] : in.project.dotenv)
    if (!proc.count(k)) env[k] = v;
  return env;
}

// One volume written on its new node.
struct VolumeWrite {
  const SwarmPart::Volume* v = nullptr;
  std::string node;  // the new node's hostname
};

}  // namespace

Report RestoreOntoSwarm(const RestoreOptions& o, RestoreSource& source, const std::string& dir, bool fresh, Report rep) {
  const backup::Manifest& m = source.manifest();
  const SwarmPart& sp = *m.swarm;
  const std::string stack = sp.stack, db_service = m.db ? m.db->service : o.db_service;
  std::string run_dir, root = dir + "/restore";
  std::optional<Install> in;
  std::vector<std::string> volumes_swapped;  // "node: mount point", the tree before kept beside it
  bool data_swapped = false, db_swapped = false, stack_removed = false;
  RunState state;
  try {
    if (o.standby) BadInput("a standby of a stack on a Swarm is not supported: restore it with migrate restore");
    // The target Swarm, its nodes, and whether the stack is deployed there.
    docker::Swarm target;
    bool deployed = false;
    {
      Step step(rep, "target swarm");
      const docker::SwarmInfo info = docker::ProbeSwarm();
      target = docker::ReadSwarmNodes(info);
      deployed = docker::Stacks().count(stack) > 0;
      step.Done(std::to_string(target.nodes.size()) + " nodes; stack " + stack +
                (deployed ? " deployed (it is removed for the restore, its volumes kept)" : " not deployed"));
    }
    if (!fresh) {
      in.emplace(LoadInstall(dir, "target", o.skip_db ? "" : db_service, o.project, ProcessEnv()));
      if (in->project_name != stack)
        BadInput("backup " + m.timestamp + " is of the stack " + stack + ", " + dir + " is the install of " +
                 in->project_name + ": its volumes are named after the stack (restore into a folder of its own)");
      if (!m.version.empty() && m.version != in->version && !o.yes)
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
    std::vector<const SwarmPart::Volume*> volumes;
    for (const auto& v : sp.volumes)
      if (!skipped(v.service)) volumes.push_back(&v);

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
      map = docker::MapNodes(old, NeededNodes(sp, volumes, skip_db ? "" : db_service, old), target.nodes, pairs);
      if (!map.complete()) {
        const std::string path = dir + "/restore-node-map.json";
        fs::create_directories(dir);
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
    std::vector<VolumeWrite> writes;
    for (const auto* v : volumes) writes.push_back({v, map.to.at(v->node).hostname});
    for (const auto& svc : sp.services) {
      if (svc.name == db_service) continue;
      bool has_volume = false;
      for (const auto* v : volumes) has_volume = has_volume || v->service == svc.name;
      if (has_volume && docker::NodesNamedBy(svc.constraints, old).empty())
        TheLog().warn("service " + svc.name + " mounts a volume but no node.hostname/node.id constraint pins it: Swarm "
                      "may start it on another node than the one its volume is restored on");
    }

    // Each node written to answers over SSH as itself, with GNU tar: checked before anything changes.
    backup::NodeHosts hosts(target, o.nodes);
    {
      Step step(rep, "nodes");
      std::vector<std::string> opened;
      for (const auto& w : writes) {
        if (std::find(opened.begin(), opened.end(), w.node) != opened.end()) continue;
        hosts.Open(w.node);
        backup::RequireGnuTar(hosts.Of(w.node));
        opened.push_back(w.node);
      }
      step.Done(opened.empty() ? "no volume to write" : Joined(opened) + " answer over SSH, each as itself");
    }
    if (o.dry_run) {
      Step step(rep, "plan");
      std::vector<std::string> vs;
      for (const auto& w : writes) vs.push_back(w.v->name + " on " + w.node + " (" + HumanBytes(w.v->bytes) + ")");
      std::string d = "nodes: " + MapText(map) + "; volumes: " + (vs.empty() ? std::string("none") : Joined(vs)) +
                      "; database: " + (skip_db ? std::string("kept as it is") : "replaced by the backup's (" +
                                        std::to_string(m.db->state.tables.size()) + " tables)") +
                      "; data/: " + (o.skip_data ? std::string("kept as it is") : std::to_string(m.files) + " files") +
                      "; stack " + stack + (deployed ? ": removed, then deployed again" : ": deployed");
      if (!o.quiet && !o.json) std::cout << d << "\n";
      step.Done(d);
      rep.result = "ok";
      return rep;
    }

    ConfirmOrCancel(o.yes, "Replace the stack " + stack + "'s volumes and database on this Swarm (and " + dir +
                               "'s data/) with " + source.Describe());
    fs::create_directories(dir);
    JobLock lock(JobLockPath(dir), "another job (backup, restore or migration) is running on " + dir);
    lock.Describe("restore of " + m.timestamp);
    RunDir rd = OpenRunDir(root);
    run_dir = rd.path;
    rep.resumed = rd.resumed;
    rep.migration_dir = run_dir;
    TheLog().open_file(run_dir + "/restore.log");
    TheLog().info(std::string(rd.resumed ? "resuming" : "starting") + " the restore of backup " + m.timestamp + " (" +
                  m.id + ") onto the Swarm, nodes " + MapText(map));

    // The configuration, its constraints naming the new nodes.
    {
      Step step(rep, "restore configuration");
      std::vector<std::string> files;
      if (fresh || o.with_config) files = RestoreConfig(source, dir, run_dir, fresh);
      in.emplace(LoadInstall(dir, "target", skip_db ? "" : db_service, o.project, ProcessEnv()));
      const std::string file = in->project.file;
      const std::string text = compose::ReadFile(file);
      const auto edits = compose::PlanConstraintEdits(
          text, file, [&](const std::string& c) { return docker::RewriteConstraint(c, old, map); });
      if (!edits.empty()) {
        KeepConfigCopy(dir, run_dir, fs::path(file).filename().string());
        WriteFileAtomic(file, compose::ApplyEdits(text, edits));
        in.emplace(LoadInstall(dir, "target", skip_db ? "" : db_service, o.project, ProcessEnv()));
      }
      step.Done((files.empty() ? std::string() : Joined(files) + "; ") + std::to_string(edits.size()) +
                " placement constraints rewritten");
    }
    const Keep keep = ResolveSkips(in->project, in->data_dir(), in->db_service, o.skip);
    const bool skip_data = o.skip_data || keep.data;

    // The safety copy: data/, and the database the stack runs now (when it runs).
    std::optional<db::Postgres> before;
    if (deployed && !skip_db) {
      docker::Swarm now = docker::ReadSwarm(stack, docker::ProbeSwarm());
      const auto on = now.NodesOf(stack + "_" + db_service);
      if (!on.empty()) {
        hosts.Open(on.front());
        db::PgTarget t = in->pg;
        t.container = docker::TaskContainer(hosts.Of(on.front()), stack + "_" + db_service, on.front());
        t.host = &hosts.Of(on.front());
        t.label = "current";
        before.emplace(t);
      }
    }
    {
      Step step(rep, "safety copy");
      SafetyCopyInput sc;
      sc.run_dir = run_dir;
      if (!skip_data) sc.data_dir = in->data_dir();
      if (before) sc.dump_target = [&before](const std::string& path) { return before->DumpToFile(path); };
      step.Done(SafetyCopy(sc, state).detail);
    }
    if (deployed) {
      Step step(rep, "stop stack");
      docker::RemoveStack(stack, std::chrono::seconds(o.wait_seconds));
      stack_removed = true;
      for (const auto& w : writes) WaitNoContainers(hosts.Of(w.node), w.node, stack, o.wait_seconds);
      step.Done("docker stack rm " + stack + " (its volumes kept)");
    }

    // The database's service is deployed alone (the others must not write into it meanwhile) and
    // starts while the volumes are written; data/ is staged on a thread of its own meanwhile.
    const std::map<std::string, std::string> env = DeployEnv(*in);
    if (!skip_db) {
      const std::string one = run_dir + "/" + db_service + "-alone.yml";
      WriteFileAtomic(one, compose::OneServiceText(compose::ReadFile(in->project.file), in->project.file, db_service));
      docker::DeployStack(one, stack, o.resolve_image, env);
    }
    std::optional<StagedData> staged;
    std::future<StagedData> staging;
    if (!skip_data)
      staging = std::async(std::launch::async, [&] {
        return StageData([&](const std::string& work) { source.Data(work, keep.paths); }, in->data_dir(),
                         run_dir + "/new", keep.paths);
      });
    try {
      Step step(rep, "restore volumes");
      uint64_t total = 0;
      for (const auto& w : writes) total += w.v->bytes;
      Progress progress("volumes", total, ProgressModeFor(o.quiet, o.json));
      uint64_t done = 0;
      std::vector<std::string> detail;
      for (const auto& w : writes) {
        const Host& h = hosts.Of(w.node);
        std::string mp = backup::VolumeMountpoint(h, w.v->name);
        if (mp.empty()) mp = backup::CreateVolume(h, w.v->name, {{"com.docker.stack.namespace", stack}});
        auto dump = source.Volume(*w.v);
        uint64_t read = 0;
        // The stream is whole (restic's exit and the manifest's size) before tar's end is awaited,
        // so that a short one is never swapped in.
        backup::StreamTreeIn(
            h, mp,
            [&](char* b, size_t n) {
              size_t got = dump->read(b, n);
              read += got;
              progress.Update(0, done + read, done + read);
              if (got == 0) {
                const int code = dump->wait();
                if (code != 0)
                  Fail("restic dump of the volume " + w.v->name + " failed: " + TrimEnd(dump->err_text()));
                if (read != w.v->bytes)
                  Fail("the volume " + w.v->name + " of " + source.Describe() + " has " + std::to_string(read) +
                       " bytes where its manifest says " + std::to_string(w.v->bytes) +
                       ": the repository is damaged (migrate backup check --read-data)");
              }
              return got;
            },
            true);
        done += read;
        volumes_swapped.push_back(w.node + ": " + mp);
        detail.push_back(w.v->name + " on " + w.node);
      }
      progress.Done();
      rep.data["volumes"] = volumes_swapped;
      step.Done(detail.empty() ? "none" : Joined(detail) + ", " + HumanBytes(done));
    } catch (...) {
      if (staging.valid()) staging.wait();  // never leave the thread running
      throw;
    }
    {
      Step step(rep, "restore data/");
      if (skip_data) {
        step.Skip(o.skip_data ? "--skip-data" : "a skipped service mounts data/");
      } else {
        staged = staging.get();
        SwapData(*staged);
        data_swapped = true;
        step.Done(std::to_string(m.files) + " files, " + HumanBytes(m.bytes));
      }
    }

    {
      Step step(rep, "restore database");
      if (skip_db) {
        step.Skip(!m.db ? "the backup holds no database" : "--skip-db or --skip " + db_service);
      } else {
        const docker::Swarm s = docker::WaitStackRunning(stack, {db_service}, std::chrono::seconds(o.wait_seconds));
        const std::string node = s.NodesOf(stack + "_" + db_service).front();
        hosts.Open(node);
        in->pg.container = docker::TaskContainer(hosts.Of(node), stack + "_" + db_service, node);
        in->pg.host = &hosts.Of(node);
        in->pg.label = "restored";
        db::Postgres pg(in->pg);
        const int major = pg.WaitReady(o.wait_seconds, db::RetiredName(in->pg.db)).major;
        if (major < m.db->major)
          BadInput("backup " + m.timestamp + " holds a postgres " + std::to_string(m.db->major) + " database; the "
                   "stack's " + db_service + " runs postgres " + std::to_string(major) + ", which cannot read it");
        db::RepairInterruptedSwap(pg);
        auto dump = source.Dump();
        Progress progress("database", m.db->dump_bytes, ProgressModeFor(o.quiet, o.json));
        db::ReplayOptions ro;
        ro.progress = [&](uint64_t b) { progress.Update(0, b, b); };
        ro.keep_retired = true;
        db::ReplayResult r = db::Replay(*dump, pg, ro);
        progress.Done();
        db_swapped = true;
        rep.database = {{"tables", r.target.tables.size()}, {"sequences", r.target.sequences.size()},
                        {"dump_bytes", r.dump_bytes}, {"roles_created", r.roles_created}, {"node", node}};
        rep.Check("database row counts and sequences", true,
                  std::to_string(r.target.tables.size()) + " tables equal to the backup's manifest");
        try {
          db::DropRetired(pg, true);
        } catch (const Error& e) {
          TheLog().warn(e.what());
        }
        step.Done(std::to_string(r.target.tables.size()) + " tables on " + node + ", " + HumanBytes(r.dump_bytes));
      }
    }
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
          for (const auto& n : docker::NodesNamedBy(svc.constraints, old))
            if (map.to.count(n)) want.push_back(map.to.at(n).hostname);
          const auto on = s.NodesOf(now->name);
          const bool placed = want.empty() || std::all_of(on.begin(), on.end(), [&](const std::string& h) {
            return std::find(want.begin(), want.end(), h) != want.end();
          });
          rep.Check("service " + svc.name, placed && (svc.global || now->replicas == svc.replicas),
                    std::to_string(s.Running(now->name)) + " running on " + Joined(on) +
                        (svc.global ? std::string(" (global)") : ", " + std::to_string(now->replicas) + " replicas"));
        }
        step.Done("stack " + stack + ": " + std::to_string(s.services.size()) + " services running");
      }
    }
    rep.result = "ok";
    for (const auto& v : volumes_swapped)
      rep.next_steps.push_back("volume before the restore, on node " + v.substr(0, v.find(':')) + ": " +
                               v.substr(v.find(':') + 2) + ".before-restore (roll back: docker stack rm " + stack +
                               ", then swap it back in there; the next restore removes it)");
    if (!skip_data)
      rep.next_steps.push_back("data/ before the restore is in " + run_dir + "/data.backup");
    if (before) rep.next_steps.push_back("the database before the restore: " + run_dir + "/target-db.dump");
    if (fs::exists(run_dir + "/config.backup"))
      rep.next_steps.push_back("the configuration files it replaced are in " + run_dir + "/config.backup/");
    rep.Write(run_dir + "/report.json");
    CloseRunDir(root);
    return rep;
  } catch (const Error& e) {
    rep.result = "failed";
    rep.error = e.what();
    if (!run_dir.empty()) {
      if (volumes_swapped.empty() && !data_swapped && !db_swapped)
        rep.next_steps.push_back("no volume, no data/ and no database was replaced");
      for (const auto& v : volumes_swapped)
        rep.next_steps.push_back("replaced: the volume on " + v + " (its tree before: .before-restore beside it)");
      if (data_swapped) rep.next_steps.push_back("replaced: data/ (before: " + run_dir + "/data.backup)");
      if (db_swapped) rep.next_steps.push_back("replaced: the database");
      if (stack_removed)
        rep.next_steps.push_back("the stack " + stack + " was removed for the restore: running migrate restore again "
                                 "resumes it; docker stack deploy -c " + (in ? in->project.file : dir + "/docker-compose.yml") +
                                 " " + stack + " brings it back as it is");
      try {
        rep.Write(run_dir + "/report.json");
      } catch (const Error&) {
      }
    }
    throw;
  }
}

}  // namespace mig
