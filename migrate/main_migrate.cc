// migrate: the remote migration (run on the new server) and the tool's subcommands.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "core/error.h"
#include "migrate/check_cmd.h"
#include "migrate/run_main.h"
#include "migrate/merge_dir.h"
#include "migrate/dns_cmd.h"
#include "migrate/backup_cmd.h"
#include "migrate/daemon_cmd.h"
#include "migrate/standby_cmd.h"
#include "migrate/release.h"
#include "core/log.h"
#include "install/install.h"
#include "migrate/options.h"
#include "migrate/swarm_migrate.h"
#include "pipeline/pipeline.h"

int main(int argc, char** argv) {
  return mig::RunMain("migrate", [&]() -> int {
    CLI::App app{"migrate " MIGRATE_VERSION
                 ": move a docker-compose based install to a new release or a new server.\n\n"
                 "Run on the NEW server: migrate --from user@old-host[:port] --from-path /srv/app/releases/OLD\n"
                 "  [--to-path NEW] [--key FILE]: reaches the old server over SSH (host key checked against\n"
                 "  known_hosts), runs migrate-agent there (uploaded when absent), merges its data/ with rsync -a\n"
                 "  rules (librsync deltas), replays its postgres database into the new one, restarts the new\n"
                 "  release. Same steps and options as migrate-local (see docs/remote.md).\n"
                 "Test a server first: migrate check (see migrate check --help).\n"
                 "Back up and restore the install (data/, database, configuration) in a restic repository:\n"
                 "  migrate backup create|list|status|... and migrate restore (see their --help, docs/backup.md).\n"
                 "Same-server upgrades: use migrate-local (see migrate-local --help).\n"
                 "Exit codes: 0 ok, 1 failed, 2 bad usage/input.",
                 "migrate"};
    app.set_version_flag("--version", MIGRATE_VERSION);
    app.require_subcommand(0, 1);
    mig::Options opts;
    mig::AddMigrateOptions(app, opts);
    mig::AddRemoteOptions(app, opts);

    mig::MergeDirOptions mo;
    std::string src, dst;
    CLI::App* merge = app.add_subcommand(
        "merge-dir", "merge folder SRC into DST with rsync -a rules (the data/ step of a migration, alone)");
    merge->add_option("SRC", src, "the folder to copy from")->required();
    merge->add_option("DST", dst, "the folder to merge into (created when missing)")->required();
    merge->add_flag("-c,--checksum", mo.checksum, "compare contents, not size and time");
    merge->add_flag("-n,--dry-run", mo.dry_run, "print what would change, change nothing");
    merge->add_flag("--json", mo.json, "print the result as JSON");
    merge->add_flag("-q,--quiet", mo.quiet, "no progress display");
    merge->add_flag("--via-agent", mo.via_agent,
                    "read SRC through a local migrate-agent and the agent protocol (as a remote migration does)");
    merge->add_option("--from", mo.from, "SRC is on this host, user@host[:port], read over SSH by migrate-agent");
    merge->add_option("--key", mo.ssh.key_file, "with --from: the SSH private key (default: ssh-agent, ~/.ssh/id_*)")
        ->envname("KEY");
    merge->add_option("--known-hosts", mo.ssh.known_hosts, "with --from: the known hosts file (default ~/.ssh/known_hosts)");
    merge->add_flag("--accept-new-host-key", mo.ssh.accept_new_host_key,
                    "with --from: add an unknown host key to known_hosts (a changed one is always refused)");
    merge->add_option("--chunk-items", mo.chunk_items, "plan and apply this many entries at a time (tests)")
        ->check(CLI::Range(1, 1 << 20))
        ->group("");  // hidden: a knob for the tests of chunk boundaries
    merge->add_flag("--sudo", mo.sudo, "with --from: run the agent with sudo -n (files only root may read)");
    mig::PrefixOptions po;
    CLI::App* release = app.add_subcommand("release", "side-by-side release folders");
    release->require_subcommand(1);
    CLI::App* prefix = release->add_subcommand(
        "prefix", "give every top-level volume of a compose file a name with PREFIX (e.g. v2_10_5_MY_COPY_2)");
    prefix->add_option("--prefix", po.prefix, "the prefix: volume KEY is named PREFIX_KEY")->required();
    prefix->add_option("-f,--file", po.file, "the compose file (default: the current folder's)");
    prefix->add_flag("-n,--dry-run", po.dry_run, "print the changed lines, write nothing");
    std::vector<std::string> check_dirs;
    bool check_json = false;
    CLI::App* rel_check = release->add_subcommand(
        "check", "report what two or more release folders would collide on if run at once (exit 1 if any)");
    rel_check->add_option("DIRS", check_dirs, "release folders")->required();
    rel_check->add_flag("--json", check_json, "print the collisions as JSON");
    std::string rel_dir, rel_project;
    int rel_wait = 180;
    bool list_json = false;
    std::vector<CLI::App*> verbs;
    for (const char* v : {"up", "down", "ps"}) {
      CLI::App* c = release->add_subcommand(
          v, std::string(v == std::string("up")     ? "start a release under its own project name and wait until it runs"
                         : v == std::string("down") ? "stop and remove a release's containers (volumes are kept)"
                                                    : "the containers of a release"));
      c->add_option("DIR", rel_dir, "the release folder (default: the current folder)");
      c->add_option("-p,--project", rel_project, "the compose project name (default: detected)");
      if (v == std::string("up")) c->add_option("--wait", rel_wait, "seconds to wait for the services")->capture_default_str();
      verbs.push_back(c);
    }
    CLI::App* show = release->add_subcommand("show", "the release as migrate reads its compose file, as JSON");
    show->add_option("DIR", rel_dir, "the release folder (default: the current folder)");
    show->add_option("-p,--project", rel_project, "the compose project name (default: detected)");
    CLI::App* list = release->add_subcommand("list", "the releases under ROOT/releases with their versions and state");
    list->add_option("ROOT", rel_dir, "the folder holding releases/ (default: the current folder)");
    list->add_flag("--json", list_json, "print JSON");
    mig::DnsCommands dns;
    mig::AddDnsCommands(app, dns);
    mig::BackupCommands backups;
    mig::AddBackupCommands(app, backups);
    mig::DaemonCommand daemon_cmd;
    mig::AddDaemonCommand(app, daemon_cmd);
    mig::StandbyCommand standby_cmd;
    mig::AddStandbyCommand(app, standby_cmd);
    mig::health::CheckOptions co;
    bool co_json = false;
    CLI::App* check = app.add_subcommand(
        "check",
        "test this server before a migration (docker, compose, the install and its postgres, free disk, GPUs): "
        "a table of checks, each failure with what to do; changes nothing");
    check->add_option("--to-path", co.to_path,
                      "the install to check, i.e. the new release's folder (default: the current folder; env TO_PATH)")
        ->type_name("DIR");
    check->add_option("--from-path", co.from_path,
                      "the old install (on this server, or with --from on the old one): check it too, and that the disk holds what migrating it needs "
                      "(env FROM_PATH)")
        ->type_name("OLD");
    check->add_option("--from", co.from_remote,
                      "the old server of a remote migration (env FROM): checks SSH, its docker, its install at "
                      "--from-path, its postgres, the clock skew")
        ->type_name("USER@HOST");
    check->add_option("--key", co.ssh.key_file, "with --from or a Swarm's nodes: the SSH private key (env KEY)")
        ->envname("KEY");
    check->add_option("--known-hosts", co.ssh.known_hosts, "with --from or a Swarm's nodes: the known hosts file");
    check->add_flag("--accept-new-host-key", co.ssh.accept_new_host_key,
                    "with --from or a Swarm's nodes: add an unknown host key");
    check->add_option("--node-user", co.node_user, "a Swarm's nodes: the SSH user (docs/swarm.md)")->capture_default_str();
    check->add_option("--nodes-file", co.nodes_file,
                      "a Swarm's nodes: per-node user, address, port, key (YAML, docs/swarm.md)")
        ->type_name("FILE");
    check->add_option("--db-service", co.db_service, "the compose service that runs postgres")
        ->type_name("NAME")
        ->capture_default_str();
    check->add_flag("--json", co_json, "print JSON for scripts instead of the table (docs/check.md)");
    check->add_flag("--require-gpu", co.require_gpu,
                    "fail when this host has no working NVIDIA GPU (without it, a host without GPUs passes)");
    check->add_option("--gpu-image", co.gpu_image,
                      "run IMAGE with docker run --gpus all and check that it sees every GPU of the host")
        ->type_name("IMAGE");
    check->footer("Statuses: ok, warn (works, but look at it), fail (fix it before migrating), skip (not checked here).\n"
                  "Exit codes: 0 nothing failed (warnings allowed), 1 a check failed, 2 bad usage.");
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e);
    }
    if (*check) {
      auto env = [](const char* k) { const char* v = std::getenv(k); return v ? std::string(v) : std::string(); };
      co.to_path_given = check->count("--to-path") > 0;
      if (!co.to_path_given && !env("TO_PATH").empty()) co.to_path = env("TO_PATH"), co.to_path_given = true;
      if (check->count("--from-path") == 0) co.from_path = env("FROM_PATH");
      if (check->count("--from") == 0) co.from_remote = env("FROM");
      return mig::RunCheck(co, co_json);
    }
    if (*merge) {
      nlohmann::json j = mig::MergeDir(src, dst, mo);
      if (mo.json) {
        std::cout << j.dump(2) << "\n";
      } else {
        auto& p = j["plan"];
        std::cout << (mo.dry_run ? "would create " : "created ") << p["create"] << ", replace " << p["replace"]
                  << ", update attributes of " << p["attrs"] << "; " << p["skip"] << " unchanged, "
                  << p["kept_target_only"] << " target-only kept\n";
      }
      return 0;
    }
    if (mig::DnsChosen(dns)) return mig::RunDns(dns);
    if (*daemon_cmd.cmd) return mig::RunDaemonCommand(daemon_cmd);
    if (mig::StandbyChosen(standby_cmd)) return mig::RunStandbyCommand(standby_cmd);
    if (mig::BackupChosen(backups)) {
      mig::TheLog().set_quiet(backups.quiet || backups.json);
      return mig::RunBackup(backups);
    }
    if (*prefix) return mig::ReleasePrefix(po);
    if (*rel_check) return mig::ReleaseCheck(check_dirs, check_json);
    for (CLI::App* c : verbs)
      if (*c) return mig::ReleaseUpDownPs(c->get_name(), rel_dir, rel_project, rel_wait);
    if (*list) return mig::ReleaseList(rel_dir, list_json);
    if (*show) return mig::ReleaseShow(rel_dir, rel_project);
    if (opts.from.empty())
      mig::BadUsage("no old server given: use --from user@old-host (or FROM=...) with --from-path; for two installs "
                    "on this server use migrate-local --from-path OLD --to-path NEW");
    mig::ApplyEnvironment(opts, mig::ProcessEnv(), app.count("--to-path") > 0, app.count("--dry-run") > 0);
    mig::TheLog().set_quiet(opts.quiet || opts.json);
    return mig::FinishRun(mig::MigrateFrom(opts), opts.json);
  });
}
