#include "migrate/backup_cmd.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "backup/catalog.h"
#include "backup/export.h"
#include "core/error.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/progress.h"
#include "install/install.h"
#include "migrate/run_main.h"

namespace mig {

namespace {

using nlohmann::json;

// The flags every backup command takes.
void Common(CLI::App* c, BackupCommands& b, bool install_needed) {
  c->add_option("--repo", b.repo.location,
                "the restic repository: a folder, sftp:user@host:/path, s3:http://host:port/bucket, "
                "rest:http://host:port/ (env MIGRATE_REPO, else RESTIC_REPOSITORY)")
      ->envname("MIGRATE_REPO");
  c->add_option("--password-file", b.repo.password_file,
                "the file holding the repository's password (env RESTIC_PASSWORD_FILE; RESTIC_PASSWORD_COMMAND "
                "is honoured)");
  c->add_option("--repo-option", b.repo.options,
                "an option of restic's backend, KEY=VALUE (restic -o), e.g. sftp.command='ssh -i KEY host -s sftp' "
                "(repeatable)")
      ->type_name("KEY=VALUE");
  c->add_flag("--json", b.json, "print JSON for scripts");
  if (install_needed) {
    c->add_option("--to-path", b.to_path, "the install (default: the current folder; env TO_PATH)")
        ->envname("TO_PATH")
        ->type_name("DIR");
    c->add_option("-p,--project", b.project, "the compose project name (default: detected)");
    c->add_option("--db-service", b.db_service, "the compose service running postgres")->capture_default_str();
  }
}

Install LoadTheInstall(const BackupCommands& b) {
  return LoadInstall(b.to_path.empty() ? "." : b.to_path, "install", b.db_service, b.project, ProcessEnv());
}

// The install's running backup, when the command runs in one (its job lock).
std::optional<backup::Running> RunningHere(const BackupCommands& b) {
  auto holder = JobLock::Holder(JobLockPath(b.to_path.empty() ? "." : b.to_path));
  return holder ? backup::ParseRunning(*holder) : std::nullopt;
}

// The backups of the install at --to-path (a repository may hold several installs'); all of
// the repository's when the folder holds no install, unless `install_required`.
std::vector<backup::Entry> Backups(const restic::Restic& repo, const BackupCommands& b, bool install_required = false,
                                   bool mine_only = true) {
  std::optional<std::string> project;
  try {
    if (mine_only) project = LoadTheInstall(b).project_name;
  } catch (const Error&) {
    if (install_required) throw;
  }
  auto snaps = repo.SnapshotsIfAny({backup::kTag});
  if (!snaps) BadInput("there is no restic repository at " + repo.repo().where() + ": `migrate backup create` makes one");
  auto all = backup::Group(*snaps, RunningHere(b));
  return project ? backup::OfProject(all, *project) : all;
}

// The backup WHICH names: `latest` among this install's backups, an ID or TIMESTAMP among all
// of the repository's.
backup::Entry Pick(const restic::Restic& repo, const BackupCommands& b, const std::string& which) {
  const bool latest = which.empty() || which == "latest";
  auto list = Backups(repo, b, false, latest);
  return backup::Resolve(list, latest ? "latest" : which);
}

std::string Size(uint64_t bytes) { return bytes ? HumanBytes(bytes) : "-"; }

void PrintTable(const std::vector<backup::Entry>& all) {
  std::printf("%-8s  %-19s  %-7s  %-10s  %10s  %s\n", "ID", "TIMESTAMP", "STATUS", "VERSION", "SIZE", "NAME");
  for (const auto& e : all)
    std::printf("%-8s  %-19s  %-7s  %-10s  %10s  %s\n", e.id.c_str(), e.timestamp.c_str(), e.status.c_str(),
                e.version.empty() ? "-" : e.version.c_str(), Size(e.bytes).c_str(), e.name.c_str());
}

int Create(BackupCommands& b) {
  Install in = LoadTheInstall(b);
  restic::Restic repo(b.repo);
  b.create_opts.progress = ProgressModeFor(b.quiet, b.json);
  if (!b.nodes_file.empty()) b.create_opts.nodes.nodes = ReadNodesFile(b.nodes_file);
  backup::Manifest m = backup::CreateBackup(in, repo, b.create_opts);
  if (b.json) {
    json j = {{"id", m.id},           {"name", m.name},          {"timestamp", m.timestamp},
              {"status", m.status},   {"version", m.version},    {"bytes", m.total_bytes()},
              {"files", m.files},     {"data_bytes", m.bytes},   {"dump_bytes", m.db ? m.db->dump_bytes : 0},
              {"tables", m.db ? m.db->state.tables.size() : 0}, {"suspended", m.suspended}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << "backup " << m.timestamp << " (id " << m.id << ") ready: " << m.files << " files ("
              << HumanBytes(m.bytes) << ")";
    if (m.db)
      std::cout << ", database " << m.db->name << " (" << m.db->state.tables.size() << " tables, dump "
                << HumanBytes(m.db->dump_bytes) << ")";
    if (m.swarm) {
      uint64_t bytes = 0;
      for (const auto& v : m.swarm->volumes) bytes += v.bytes;
      std::cout << ", " << m.swarm->volumes.size() << " volume(s) of the stack " << m.swarm->stack << " read on their "
                << "nodes (" << HumanBytes(bytes) << ")";
    }
    std::cout << "\n";
  }
  return 0;
}

int List(BackupCommands& b) {
  restic::Restic repo(b.repo);
  auto all = Backups(repo, b);
  if (b.json) {
    json arr = json::array();
    for (const auto& e : all) arr.push_back(backup::EntryJson(e));
    std::cout << arr.dump() << "\n";
  } else if (all.empty()) {
    std::cout << "no backups in " << repo.repo().where() << "\n";
  } else {
    PrintTable(all);
  }
  return 0;
}

int Status(BackupCommands& b) {
  restic::Restic repo(b.repo);
  const backup::Entry e = Pick(repo, b, b.which);
  json j = backup::EntryJson(e);
  std::optional<backup::Manifest> m;
  if (e.has_manifest()) {
    m = backup::ReadManifest(repo, e);
    j["manifest"] = backup::ToJson(*m);
  }
  if (b.json) {
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "backup " << e.timestamp << " (id " << e.id << "): " << e.status;
  if (!e.name.empty()) std::cout << ", \"" << e.name << "\"";
  std::cout << "\n";
  if (!e.error.empty()) std::cout << "  error: " << e.error << "\n";
  if (m) {
    if (!m->error.empty()) std::cout << "  error: " << m->error << "\n";
    std::cout << "  install: " << m->path << " (version " << (m->version.empty() ? "-" : m->version) << ", project "
              << m->project << ") on " << m->host << "\n";
    std::cout << "  data/ and configuration: " << m->files << " files, " << HumanBytes(m->bytes) << "\n";
    if (m->db)
      std::cout << "  database: " << m->db->name << " (postgres " << m->db->major << "), " << m->db->state.tables.size()
                << " tables, " << m->db->state.sequences.size() << " sequences, dump " << HumanBytes(m->db->dump_bytes)
                << "\n";
    if (m->swarm) {
      std::cout << "  stack " << m->swarm->stack << " on a Swarm of " << m->swarm->nodes.size() << " nodes\n";
      for (const auto& v : m->swarm->volumes)
        std::cout << "  volume " << v.name << " (" << v.service << ") on " << v.node << ": " << HumanBytes(v.bytes)
                  << "\n";
    }
    if (!m->suspended.empty()) {
      std::cout << "  suspended during the backup:";
      for (const auto& s : m->suspended) std::cout << " " << s;
      std::cout << "\n";
    }
    std::cout << "  made " << m->started << " - " << m->finished << "\n";
  }
  return e.status == "ready" ? 0 : 1;
}

int Delete(BackupCommands& b) {
  restic::Restic repo(b.repo);
  const backup::Entry e = Pick(repo, b, b.which);
  if (e.status == "running")
    Fail("backup " + e.timestamp + " is being made right now; it can be deleted once it ended");
  repo.Forget(e.snapshots, b.prune);
  if (b.json)
    std::cout << json{{"deleted", backup::EntryJson(e)}, {"pruned", b.prune}}.dump() << "\n";
  else
    std::cout << "deleted backup " << e.timestamp << " (id " << e.id << ")"
              << (b.prune ? "; the repository is pruned" : "; its space is freed by `migrate backup forget --prune`")
              << "\n";
  return 0;
}

int Forget(BackupCommands& b) {
  restic::Restic repo(b.repo);
  auto all = Backups(repo, b, true);  // never another install's backups
  auto gone = backup::ToForget(all, b.keep_last);
  std::vector<std::string> ids;
  for (const auto& e : gone) ids.insert(ids.end(), e.snapshots.begin(), e.snapshots.end());
  repo.Forget(ids, b.prune);
  if (b.json) {
    json arr = json::array();
    for (const auto& e : gone) arr.push_back(backup::EntryJson(e));
    std::cout << json{{"forgotten", arr}, {"kept", all.size() - gone.size()}, {"pruned", b.prune}}.dump() << "\n";
  } else {
    for (const auto& e : gone) std::cout << "forgot " << e.timestamp << " (id " << e.id << ", " << e.status << ")\n";
    std::cout << gone.size() << " backups forgotten, " << all.size() - gone.size() << " kept"
              << (b.prune ? "; the repository is pruned" : "") << "\n";
  }
  return 0;
}

int Check(BackupCommands& b) {
  restic::Restic repo(b.repo);
  auto all = Backups(repo, b);
  std::vector<std::string> problems;
  std::string restic_says = repo.Check(b.read_data);
  if (!restic_says.empty()) problems.push_back("restic check: " + restic_says);
  size_t ready = 0;
  for (const auto& e : all) {
    if (e.status != "ready") continue;
    ++ready;
    try {
      backup::Manifest m = backup::ReadManifest(repo, e);
      auto has = [&](const std::string& part, const std::string& id) {
        auto it = e.parts.find(part);
        return it != e.parts.end() && it->second.compare(0, id.size(), id) == 0;
      };
      if (!has("files", m.files_snapshot))
        problems.push_back(e.timestamp + ": its data/ and configuration (snapshot " + m.files_snapshot + ") are missing");
      if (m.db && !has("db", m.db->snapshot))
        problems.push_back(e.timestamp + ": its database dump (snapshot " + m.db->snapshot + ") is missing");
      if (m.swarm)
        for (const auto& v : m.swarm->volumes)
          if (!has(v.part, v.snapshot))
            problems.push_back(e.timestamp + ": its volume " + v.name + " of node " + v.node + " (snapshot " +
                               v.snapshot + ") is missing");
    } catch (const Error& x) {
      problems.push_back(e.timestamp + ": " + x.what());
    }
  }
  if (b.json) {
    std::cout << json{{"ok", problems.empty()}, {"ready_backups", ready}, {"problems", problems},
                      {"read_data", b.read_data}}
                     .dump()
              << "\n";
  } else {
    for (const auto& p : problems) std::cout << "problem: " << p << "\n";
    std::cout << (problems.empty() ? "ok: " : "NOT ok: ") << "the repository and the manifests of " << ready
              << " ready backups" << (b.read_data ? " (every pack read)" : "") << "\n";
  }
  return problems.empty() ? 0 : 1;
}

int Passwd(BackupCommands& b) {
  restic::Restic repo(b.repo);
  if (!repo.Initialized()) BadInput("there is no restic repository at " + repo.repo().where());
  repo.ChangePassword(b.new_password_file);
  std::cout << "the repository " << repo.repo().where()
            << " now opens with the password in " << b.new_password_file << " only\n";
  return 0;
}

int Export(BackupCommands& b) {
  restic::Restic repo(b.repo);
  const backup::Entry e = Pick(repo, b, b.which);
  backup::Manifest m = backup::ReadManifest(repo, e);
  // The total as the backup counted it: data/ and the configuration, the dump, the volumes.
  uint64_t total = m.bytes + (m.db ? m.db->dump_bytes : 0);
  if (m.swarm)
    for (const auto& v : m.swarm->volumes) total += v.bytes;
  Progress progress("export", total, ProgressModeFor(b.quiet, b.json));
  uint64_t written = 0;
  uint64_t size = backup::ExportBackup(repo, e, m, b.output, [&](uint64_t members, uint64_t bytes) {
    written = bytes;
    progress.Update(members, bytes, bytes);
  });
  progress.SetTotal(written);  // the estimate leaves out the file's own manifest and checksums
  progress.Done();
  if (b.json)
    std::cout << json{{"exported", backup::EntryJson(e)}, {"file", b.output}, {"bytes", size}}.dump() << "\n";
  else
    std::cout << "backup " << e.timestamp << " (id " << e.id << ") written to " << b.output << " (" << HumanBytes(size)
              << "); restore it anywhere with: migrate restore " << b.output << "\n";
  return 0;
}

int Restore(BackupCommands& b) {
  RestoreOptions& o = b.restore_opts;
  o.to_path = b.to_path;
  o.project = b.project;
  o.db_service = b.db_service;
  o.json = b.json;
  o.quiet = b.quiet;
  if (!b.nodes_file.empty()) o.nodes.nodes = ReadNodesFile(b.nodes_file);
  return FinishRun(RunRestore(o, b.repo), b.json);
}


// How a Swarm's nodes are reached over SSH (docs/swarm.md "Data on disk"): the same flags for
// each command that reads or writes them.
void AddNodeAccess(CLI::App* cmd, NodeDefaults& nd, std::string& nodes_file) {
  cmd->add_option("--key", nd.ssh.key_file, "a Swarm's nodes: the SSH private key (env KEY)")->envname("KEY");
  cmd->add_option("--known-hosts", nd.ssh.known_hosts, "a Swarm's nodes: the known hosts file");
  cmd->add_flag("--accept-new-host-key", nd.ssh.accept_new_host_key, "a Swarm's nodes: add an unknown host key");
  cmd->add_option("--node-user", nd.user, "a Swarm's nodes: the SSH user")->capture_default_str();
  cmd->add_option("--nodes-file", nodes_file, "a Swarm's nodes: per-node user, address, port, key (YAML)")
      ->type_name("FILE");
}

}  // namespace

void AddBackupCommands(CLI::App& app, BackupCommands& b) {
  b.backup = app.add_subcommand("backup", "backups of the install in an encrypted restic repository (docs/backup.md)");
  b.backup->require_subcommand(1);
  b.create = b.backup->add_subcommand(
      "create", "back up data/, the database (pg_dump inside its container) and the configuration; prints the id");
  Common(b.create, b, true);
  b.create->add_option("--name", b.create_opts.name, "a name shown in the list");
  b.create->add_flag("--suspend", b.create_opts.suspend,
                     "stop the services other than the database during the backup (a Swarm stack's: scaled to 0), "
                     "started again afterwards, failure included");
  b.create->add_flag("-q,--quiet", b.quiet, "no progress display");
  // A stack on a Swarm (docs/swarm.md): its volumes and database are read on their nodes.
  AddNodeAccess(b.create, b.create_opts.nodes, b.nodes_file);
  b.list = b.backup->add_subcommand("list", "the backups, newest first: id, timestamp, status, version, size, name");
  Common(b.list, b, true);
  b.status = b.backup->add_subcommand("status", "one backup in detail (default: the latest ready one); exit 1 unless ready");
  Common(b.status, b, true);
  b.status->add_option("WHICH", b.which, "ID, TIMESTAMP or latest");
  b.del = b.backup->add_subcommand("delete", "remove one backup from the repository");
  Common(b.del, b, true);
  b.del->add_option("WHICH", b.which, "ID or TIMESTAMP")->required();
  b.del->add_flag("--prune", b.prune, "also free its space now (restic prune)");
  b.forget = b.backup->add_subcommand(
      "forget", "keep the newest N ready backups, remove the older ones (never the last ready or a running one)");
  Common(b.forget, b, true);
  b.forget->add_option("--keep-last", b.keep_last, "how many ready backups to keep")->required()->check(CLI::NonNegativeNumber);
  b.forget->add_flag("--prune", b.prune, "also free their space now (restic prune)");
  b.check = b.backup->add_subcommand("check", "check the repository (restic check) and every ready backup's manifest");
  Common(b.check, b, true);
  b.check->add_flag("--read-data", b.read_data, "also read every pack (slow: reads the whole repository)");
  b.passwd = b.backup->add_subcommand("passwd", "change the repository's password (the old one stops opening it)");
  Common(b.passwd, b, false);
  b.passwd->add_option("--new-password-file", b.new_password_file, "the file holding the new password")
      ->required()
      ->check(CLI::ExistingFile);
  b.exp = b.backup->add_subcommand(
      "export", "one backup as one portable file: a plain tar (manifest, configuration, data/, database dump, "
                "SHA256SUMS) that `migrate restore FILE` restores without the repository");
  Common(b.exp, b, true);
  b.exp->add_option("WHICH", b.which, "ID, TIMESTAMP or latest (default latest)");
  b.exp->add_option("-o,--output", b.output, "the file to write (e.g. backup.tar)")->required();
  b.restore = app.add_subcommand(
      "restore",
      "make the install's data/ and database a backup's (full replacement, verified before it is swapped in; the "
      "current state kept in restore/<timestamp>/ with the commands to roll back)");
  Common(b.restore, b, true);
  RestoreOptions& r = b.restore_opts;
  b.restore->add_option("WHICH", r.which,
                        "ID, TIMESTAMP or latest (default latest), or a file made by `migrate backup export` (no "
                        "repository or password needed)");
  b.restore->add_option("--skip", r.skip,
                        "leave this compose service's state as it is: the database for the database service, else "
                        "the data/ paths it mounts (repeatable)")
      ->type_name("SERVICE");
  b.restore->add_flag("--skip-data", r.skip_data, "leave data/ as it is");
  b.restore->add_flag("--skip-db", r.skip_db, "leave the database as it is");
  b.restore->add_flag("--with-config", r.with_config, "also put the backup's .env and custom.env back");
  b.restore->add_flag("-n,--dry-run", r.dry_run, "print what would be replaced and kept, change nothing");
  b.restore->add_flag("-y,--yes", r.yes, "do not ask; also restore a backup of another release");
  b.restore->add_flag("--no-restart", r.no_restart, "leave the services stopped afterwards");
  b.restore->add_flag("--standby", r.standby,
                      "keep this install as a standby: only the database started afterwards, the backup recorded "
                      "in backup/standby.json; refused once it was promoted (migrate standby promote)");
  b.restore->add_option("--wait", r.wait_seconds, "seconds to wait for the services")->capture_default_str();
  // A backup of a stack on a Swarm (docs/swarm.md "Restore onto nodes"), with DOCKER_HOST at
  // the target Swarm's manager.
  b.restore->add_option("--node-map", r.node_map,
                        "a Swarm backup: OLD=NEW, an old node (hostname or address) onto a node of this Swarm "
                        "(repeat it)")->type_name("OLD=NEW");
  b.restore->add_option("--node-map-file", r.node_map_file,
                        "a Swarm backup: the node map, restore-node-map.json as a restore wrote it, filled in")
      ->type_name("FILE");
  b.restore->add_option("--resolve-image", r.resolve_image,
                        "a Swarm backup: docker stack deploy's --resolve-image (always, changed, never)")
      ->check(CLI::IsMember({"always", "changed", "never"}));
  AddNodeAccess(b.restore, r.nodes, b.nodes_file);
  b.restore->add_flag("-q,--quiet", b.quiet, "print only warnings, errors and the summary");
}

bool BackupChosen(const BackupCommands& b) { return (b.backup && *b.backup) || (b.restore && *b.restore); }

int RunBackup(BackupCommands& b) {
  if (*b.restore) return Restore(b);
  if (*b.create) return Create(b);
  if (*b.list) return List(b);
  if (*b.status) return Status(b);
  if (*b.del) return Delete(b);
  if (*b.forget) return Forget(b);
  if (*b.check) return Check(b);
  if (*b.exp) return Export(b);
  return Passwd(b);
}

}  // namespace mig
