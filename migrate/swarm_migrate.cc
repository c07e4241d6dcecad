#include "migrate/swarm_migrate.h"

#include <filesystem>

#include "core/error.h"
#include "core/timer.h"
#include "docker/swarm.h"
#include "docker/docker.h"
#include "install/install.h"
#include "origin/node_access.h"
#include "origin/origin.h"
#include "pipeline/dns_hook.h"
#include "pipeline/pipeline.h"
#include "restore/live_swarm.h"
#include "restore/swarm_restore.h"

namespace fs = std::filesystem;

namespace mig {

Report MigrateFrom(const Options& o) {
  OriginSpec spec;
  spec.from = o.from;
  spec.ssh = o.ssh;
  spec.sudo = o.sudo;
  std::unique_ptr<Origin> origin = OpenOrigin(spec);
  // The old server's first questions at once, in one program there (each would be a turn of
  // the agent's one session): the Swarm probe, its compose project, the engine's version,
  // compose, data/. The steps below take these answers as they ask. Not the install's listing:
  // it carries its files (.env), which must not wait in a folder there.
  if (!o.from_path.empty() && o.from_path[0] == '/') {
    std::vector<std::vector<std::string>> ask = {docker::SwarmProbeArgv(), docker::EngineVersionArgv(),
                                                  docker::RemoteComposeProbeArgv()};
    if (o.from_project.empty()) ask.push_back(docker::ProjectStartedFromArgv(o.from_path));
    if (!o.skip_data) ask.push_back({"test", "-d", o.from_path + "/data"});
    origin->Prefetch(ask);
  }
  // One `docker info` there: a compose install (the common case) goes on as before.
  docker::SwarmInfo info;
  try {
    info = docker::ProbeSwarm(origin->host());
  } catch (const Error&) {
  }
  std::optional<Install> old;
  std::optional<docker::Swarm> stack;
  if (info.active && info.manager) {
    old.emplace(origin->LoadInstall(o.from_path, o.skip_db ? "" : o.db_service, o.from_project, ProcessEnv()));
    stack = OldStack(*origin, old->project_name);
  }
  if (!stack) return RunMigration(o, std::move(origin));

  Report rep;
  rep.command = "migrate";
  rep.started_at = UtcNow();
  rep.dry_run = o.dry_run;
  rep.from = origin->Show(old->dir);
  const Install to = LoadInstall(o.to_path, "target", o.skip_db ? "" : o.db_service, o.to_project, ProcessEnv());
  rep.to = to.dir;
  NodeDefaults nodes;
  nodes.user = o.node_user;
  nodes.ssh = o.ssh;
  if (!o.nodes_file.empty()) nodes.nodes = ReadNodesFile(o.nodes_file);
  const std::string spool = to.dir + "/migration";
  std::error_code ec;
  fs::create_directories(spool, ec);
  if (ec) Fail("cannot make " + spool + ": " + ec.message());
  LiveSwarmSource source(o, *origin, *old, *stack, nodes, spool);
  RestoreOptions r;
  r.migration = true;
  r.to_path = to.dir;
  r.project = to.project_name;  // the new release's stack: the volumes named after it
  r.db_service = o.db_service;
  r.skip_db = o.skip_db, r.skip_data = o.skip_data;
  r.dry_run = o.dry_run, r.yes = o.yes, r.no_restart = o.no_restart, r.json = o.json, r.quiet = o.quiet;
  r.wait_seconds = o.wait_seconds;
  r.node_map = o.node_map, r.node_map_file = o.node_map_file;
  r.nodes = nodes;
  r.resolve_image = o.resolve_image;
  DnsHook hook = o.dns_hook;
  if (!hook.command.empty() && hook.old_ip.empty()) {
    hook.old_ip = origin->PeerIPv4();  // OLD_IP defaults to the old server's address, as for compose
    if (hook.old_ip.empty()) BadUsage("the old server was reached over IPv6: give --dns-hook's --old-ip IP");
  }
  rep = RestoreOntoSwarm(r, source, to.dir, false, std::move(rep));
  // As every migration: the DNS hook once it succeeded (a failure recorded, the migration stands).
  if (rep.result == "ok" && !hook.command.empty()) {
    DnsHookStep(rep, hook, o.dry_run);
    if (!o.dry_run) rep.Write(rep.migration_dir + "/report.json");
  }
  return rep;
}

}  // namespace mig
