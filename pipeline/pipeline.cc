#include "pipeline/pipeline.h"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "db/replay.h"
#include "docker/docker.h"
#include "pipeline/dns_hook.h"
#include "install/install.h"
#include "pipeline/lock.h"
#include "core/progress.h"
#include "install/remote_install.h"
#include "agent/client.h"
#include "ssh/remote_agent.h"
#include "ssh/remote_host.h"
#include "install/room.h"
#include "sync/apply.h"
#include "sync/plan.h"
#include "sync/source.h"
#include "pipeline/run_state.h"
#include "pipeline/safety_copy.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

std::string UtcStamp(const char* fmt) {
  char buf[64];
  std::time_t now = std::time(nullptr);
  std::strftime(buf, sizeof buf, fmt, std::gmtime(&now));
  return buf;
}

// The first line of a small file ("" when absent).
std::string ReadSmall(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path, 4096);
  if (!text) return "";
  return text->substr(0, text->find('\n'));
}

nlohmann::json TotalsJson(const sync::PlanTotals& t) {
  return {{"source_entries", t.source_entries}, {"source_bytes", t.source_bytes}, {"create", t.create},
          {"replace", t.replace}, {"attrs", t.attrs}, {"skip", t.skip}, {"bytes_to_copy", t.bytes_to_copy},
          {"kept_target_only", t.kept}, {"removed_by_type_change", t.removed},
          {"stale_temps", t.stale_temps}};
}

nlohmann::json StatsJson(const sync::ApplyStats& s) {
  return {{"files_written", s.files_written}, {"bytes_written", s.bytes_written},
          {"hashes_checked", s.hashes_checked}, {"attrs_updated", s.attrs_updated},
          {"dirs_created", s.dirs_created}, {"symlinks_written", s.links_written},
          {"specials_written", s.specials_written}, {"removed", s.removed},
          {"stale_temps_removed", s.stale_temps_removed}, {"syncs", s.syncs},
          {"changed_during_copy", s.changed_during_copy}, {"vanished", s.vanished},
          {"skipped_devices", s.skipped_devices}};
}

nlohmann::json StateJson(const db::DbState& st) {
  nlohmann::json j = {{"tables", nlohmann::json::object()}, {"sequences", nlohmann::json::object()}};
  for (const auto& [k, v] : st.tables) j["tables"][k] = v;
  for (const auto& [k, v] : st.sequences) j["sequences"][k] = v;
  return j;
}

// The old server as the replay's pg_dump sees it in a remote migration: the dump runs through
// migrate-agent (RUN) and streams over the agent's channel; everything else as `remote`.
class AgentDumpHost : public Host {
 public:
  AgentDumpHost(const Host& remote, std::function<agent::AgentSession&()> agent)
      : remote_(remote), agent_(std::move(agent)) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    return remote_.Run(argv, input, timeout);
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    if (pipes != Proc::kStdout) return remote_.Start(argv, pipes);
    return agent::RunThroughAgent(agent_(), argv);
  }
  std::string Describe() const override { return remote_.Describe(); }

 private:
  const Host& remote_;
  std::function<agent::AgentSession&()> agent_;
};

class Migration {
 public:
  explicit Migration(const Options& o) : o_(o) {
    rep_.command = o.from.empty() ? "migrate-local" : "migrate";
    rep_.started_at = UtcStamp("%Y-%m-%dT%H:%M:%SZ");
    rep_.dry_run = o.dry_run;
  }

  Report Run() {
    try {
      RunSteps();
      return rep_;
    } catch (const Error& e) {
      rep_.result = "failed";
      rep_.error = e.what();
      if (!mdir_.empty()) {
        AddRollbackHints();
        try {
          rep_.Write(mdir_ + "/report.json");
        } catch (const Error&) {
        }
      }
      throw;
    }
  }

  const Report& report() const { return rep_; }

 private:
  void RunSteps() {
    auto env = ProcessEnv();
    const std::string db = o_.skip_db ? "" : o_.db_service;
    if (!o_.from.empty()) {
      ConnectRemote();
      mirror_.emplace("migrate-remote");
      from_ = LoadRemoteInstall(*remote_, o_.from_path, db, o_.from_project, env, mirror_->path());
    } else {
      from_ = LoadInstall(o_.from_path, "source", db, o_.from_project, env);
    }
    to_ = LoadInstall(o_.to_path, "target", db, o_.to_project, env);
    if (!remote_) CheckDistinct(from_, to_);
    rep_.from = remote_ ? from_.host + ":" + from_.dir : from_.dir;
    rep_.to = to_.dir;
    mroot_ = o_.temp_dir.empty() ? to_.dir + "/migration" : o_.temp_dir;

    std::optional<TargetLock> lock;
    if (!o_.dry_run) {
      std::error_code ec;
      fs::create_directories(mroot_, ec);
      if (ec) Fail("cannot create " + mroot_ + ": " + ec.message());
      lock.emplace(mroot_);
    }
    Preflight();
    if (o_.dry_run) {
      DryRun();
      DnsHookStep(rep_, o_.dns_hook, true);
      return;
    }
    Confirm();
    OpenMigrationDir();
    SafetyCopy();
    if (o_.stop_old) StopOld(false);
    MergeData();
    ReplayDb();
    if (o_.stop_old) StopOld(true);
    else if (started_source_db_) src_stack_->Stop({from_.db_service});
    Restart();
    rep_.result = "ok";
    DnsHookStep(rep_, o_.dns_hook, false);  // a failure is recorded; the migration stands
    AddNextSteps();
    rep_.Write(mdir_ + "/report.json");
    ::unlink((mroot_ + "/in-progress").c_str());
    if (agent_) agent_->Close();
  }

  // The old server: SSH (host key, authentication), checked before anything else.
  void ConnectRemote() {
    Step step(rep_, "connect");
    ssh_ = std::make_unique<ssh::Session>(ssh::ParseTarget(o_.from), o_.ssh);
    remote_ = std::make_unique<ssh::RemoteHost>(*ssh_);
    rep_.Check("ssh", true, ssh_->target().Show() + ", host key " + ssh_->host_key_fingerprint());
    if (!o_.dns_hook.command.empty() && o_.dns_hook.old_ip.empty()) {
      o_.dns_hook.old_ip = ssh_->PeerIPv4();
      if (o_.dns_hook.old_ip.empty()) BadUsage("the old server was reached over IPv6: give --dns-hook's --old-ip IP");
    }
    step.Done(ssh_->target().Show());
  }

  const Host& SourceHost() const { return remote_ ? static_cast<const Host&>(*remote_) : ThisHost(); }

  // The agent on the old server, started at the first need.
  agent::AgentSession& Agent() {
    if (!agent_) {
      agent_ = ssh::StartRemoteAgent(*ssh_, agent::AgentBesideMe(), o_.sudo);
      rep_.Check("agent", true, "migrate-agent " + agent_->hello().program_version + " on " + from_.host);
    }
    return *agent_;
  }

  // Where the old data/ is read from: this server's folder, or the agent on the old server.
  std::unique_ptr<sync::Source> DataSource() {
    if (!remote_) return sync::MakeLocalSource(from_.data_dir());
    Agent();
    // The listing is spooled beside the target's data/ (docs/streaming-merge.md).
    return std::make_unique<agent::AgentSource>(*agent_, from_.data_dir(), from_.host + ":" + from_.data_dir(), to_.dir);
  }
  void Preflight() {
    Step step(rep_, "preflight");
    std::string engine = docker::EngineVersion();
    rep_.Check("docker engine", true, engine);
    docker::ComposeTool tool = docker::DetectCompose();
    rep_.Check("compose", true, CommandLine(tool.argv) + " " + tool.version);
    docker::ComposeTool src_tool = tool;
    if (remote_) {
      rep_.Check("old server's docker engine", true, docker::EngineVersion(*remote_) + " on " + from_.host);
      src_tool = docker::DetectCompose(*remote_);
      rep_.Check("old server's compose", true, CommandLine(src_tool.argv) + " " + src_tool.version);
    }
    src_stack_.emplace(src_tool, from_.dir, from_.project.file, from_.project_name, SourceHost());
    dst_stack_.emplace(tool, to_.dir, to_.project.file, to_.project_name);
    std::error_code ec;
    if (!o_.skip_data) {
      bool there = remote_ ? remote_->Run({"test", "-d", from_.data_dir()}).ok() : fs::is_directory(from_.data_dir(), ec);
      if (!there)
        BadInput("the source " + rep_.from + " has no data/ folder (use --skip-data to migrate only the database)");
      rep_.Check("source data/", true, rep_.from + "/data");
    }
    uint64_t dst_db_size = 0;
    if (!o_.skip_db) {
      from_.pg.container = EnsureDb(*src_stack_, from_, started_source_db_);
      to_.pg.container = EnsureDb(*dst_stack_, to_, started_target_db_);
      if (!from_.pg.container.empty()) {
        if (remote_) {  // the dump streams through the agent's connection (docs/remote.md)
          dump_host_ = std::make_unique<AgentDumpHost>(*remote_, [this]() -> agent::AgentSession& { return Agent(); });
          from_.pg.dump_host = dump_host_.get();
        }
        src_pg_.emplace(from_.pg);
        db::ServerInfo si = src_pg_->WaitReady(90, db::RetiredName(from_.pg.db));
        if (!si.db_exists)
          BadInput("the source database " + from_.pg.db + " does not exist in " + from_.project_name +
                   " (is POSTGRES_DB right in " + from_.dir + "/.env?)");
        src_db_size_ = static_cast<uint64_t>(si.db_size);
        src_major_ = si.major;
        rep_.Check("source postgres", true,
                   from_.pg.db + " in " + from_.project_name + ", postgres " + std::to_string(si.major) + ", " +
                       HumanBytes(src_db_size_));
      }
      if (!to_.pg.container.empty()) {
        dst_pg_.emplace(to_.pg);
        db::ServerInfo ti = dst_pg_->WaitReady(90, db::RetiredName(to_.pg.db));
        if (!ti.db_exists && ti.retired_exists && !o_.dry_run) {
          db::RepairInterruptedSwap(*dst_pg_);
          TheLog().warn("an interrupted run left the target database renamed: it was put back");
          ti = dst_pg_->Probe(db::RetiredName(to_.pg.db));
        }
        if (!ti.db_exists)
          BadInput("the target database " + to_.pg.db + " does not exist in " + to_.project_name +
               ": start the new release once so that it initialises its database");
        if (!ti.superuser)
          BadInput("the target's user " + to_.pg.user + " is not a superuser: the replay creates and renames "
               "databases and roles; use the postgres service's POSTGRES_USER");
        if (src_major_ && ti.major < src_major_)
          BadInput("the target runs postgres " + std::to_string(ti.major) + ", older than the source's " +
               std::to_string(src_major_) + ": a dump cannot go back to an older major version");
        dst_db_size = static_cast<uint64_t>(ti.db_size);
        rep_.Check("target postgres", true,
                   to_.pg.db + " in " + to_.project_name + ", postgres " + std::to_string(ti.major) + ", " +
                       HumanBytes(dst_db_size));
      }
    }
    if (!o_.no_restart && !o_.stop_old) {
      CheckPorts();
      rep_.Check("web ports free", true, "no other stack holds the new release's published ports");
    }
    // Room: the data to copy and the target's dump beside the target; the staging database
    // (about the source's size) where docker keeps its volumes.
    uint64_t data_bytes = 0;
    if (!o_.skip_data) {
      if (remote_) {
        auto src = DataSource();
        data_bytes = static_cast<agent::AgentSource&>(*src).Totals().bytes;
      } else {
        data_bytes = TreeBytes(from_.data_dir());
      }
    }
    RoomVerdict here = TargetRoom(to_.dir, data_bytes, dst_db_size);
    rep_.Check("free space in target", here.ok, here.detail);
    if (!here.ok) Fail(here.error);
    if (!o_.skip_db) {
      RoomVerdict db_room = DatabaseRoom(DockerRootDir(), src_db_size_);
      if (!db_room.where.empty()) {
        rep_.Check("free space for the database", db_room.ok, db_room.detail);
        if (!db_room.ok) Fail(db_room.error);
      }
    }
    step.Done();
  }

  // The running postgres container of an install, started when it is down (not in a dry run).
  std::string EnsureDb(const docker::Stack& stack, const Install& in, bool& started) {
    std::string c = stack.RunningContainer(in.db_service);
    if (!c.empty()) return c;
    if (o_.dry_run) {
      rep_.Check(in.role + " postgres", true, "not running: a real run starts service " + in.db_service);
      return "";
    }
    TheLog().info("starting the " + in.role + "'s " + in.db_service + " service (project " + stack.project() + ")");
    stack.Up({in.db_service});
    stack.WaitUp({in.db_service}, std::chrono::seconds(o_.wait_seconds));
    started = true;
    c = stack.RunningContainer(in.db_service);
    if (c.empty()) Fail("the " + in.role + "'s " + in.db_service + " service did not start");
    return c;
  }


  void DryRun() {
    if (!o_.skip_data) {
      Step step(rep_, "plan data/");
      auto src = DataSource();
      sync::MergeOptions mo;
      mo.checksum = o_.checksum;
      mo.dry_run = true;
      const bool show = o_.show_plan && !o_.quiet && !o_.json;
      if (show) std::cout << "data/ changes:\n";
      mo.on_chunk = [&](const sync::Plan& chunk) {
        if (!show) return;
        for (const auto& it : chunk.items)
          if (it.action != sync::Action::kSkip)
            std::cout << "  " << sync::ActionName(it.action) << "  " << (it.src.path.empty() ? "." : it.src.path) << "\n";
      };
      sync::MergeResult plan = sync::Merge(*src, to_.data_dir(), mo);
      rep_.data["plan"] = TotalsJson(plan.totals);
      const auto& t = plan.totals;
      std::ostringstream o;
      o << "data/: " << t.create << " to create, " << t.replace << " to replace, " << t.attrs
        << " attributes to update, " << t.skip << " unchanged, " << t.kept << " target-only kept";
      if (t.removed) o << ", " << t.removed << " removed (a folder replaced by a file)";
      o << "; " << HumanBytes(t.bytes_to_copy) << " to copy";
      if (!o_.quiet && !o_.json) std::cout << o.str() << "\n";
      step.Done(o.str());
    }
    if (!o_.skip_db) {
      Step step(rep_, "plan database");
      std::string d = "replace " + to_.pg.db + " (" + to_.project_name + ") with " + from_.pg.db + " (" +
                      from_.project_name + ")";
      if (src_pg_) d += ", source " + HumanBytes(src_db_size_);
      if (!o_.quiet && !o_.json) std::cout << "database: " << d << "\n";
      step.Done(d);
    }
    rep_.result = "ok";
  }

  void Confirm() {
    if (o_.yes || !::isatty(STDIN_FILENO)) return;
    std::cerr << "Migrate " << rep_.from << " into " << to_.dir << " (its data/ is merged"
              << (o_.skip_db ? "" : ", its database " + to_.pg.db + " replaced") << ")? [y/N] ";
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes") BadUsage("cancelled: nothing was changed");
  }

  void OpenMigrationDir() {
    std::string ts = ReadSmall(mroot_ + "/in-progress");
    std::error_code ec;
    if (!ts.empty() && ts.find('/') == std::string::npos && fs::is_directory(mroot_ + "/" + ts, ec)) {
      rep_.resumed = true;
    } else {
      ts = UtcStamp("%Y%m%d-%H%M%S");
      if (fs::exists(mroot_ + "/" + ts, ec)) ts += "-" + std::to_string(::getpid());
      fs::create_directories(mroot_ + "/" + ts, ec);
      if (ec) Fail("cannot create " + mroot_ + "/" + ts + ": " + ec.message());
      WriteFileAtomic(mroot_ + "/in-progress", ts + "\n");
      RunState{}.Save(mroot_ + "/" + ts + "/state.json");
    }
    mdir_ = mroot_ + "/" + ts;
    rep_.migration_dir = mdir_;
    TheLog().open_file(mdir_ + "/migration.log");
    TheLog().info(std::string(rep_.resumed ? "resuming" : "starting") + " migration " + ts + ": " + from_.dir +
                  " -> " + to_.dir);
  }

  void SafetyCopy() {
    Step step(rep_, "safety copy");
    SafetyCopyInput in;
    in.run_dir = mdir_;
    if (!o_.skip_data) in.data_dir = to_.data_dir();
    if (!o_.skip_db) in.dump_target = [this](const std::string& path) { return dst_pg_->DumpToFile(path); };
    SafetyCopyResult r = mig::SafetyCopy(in, state_);
    step.Done(r.detail);
  }

  void StopOld(bool db_too) {
    std::vector<std::string> services;
    for (const auto& s : from_.project.services)
      if ((s.name != from_.db_service) != db_too) services.push_back(s.name);
    if (services.empty()) return;
    TheLog().info("stopping the old stack's " + std::string(db_too ? "database" : "services") + " (project " +
                  from_.project_name + ")");
    src_stack_->Stop(services);
  }

  void MergeData() {
    Step step(rep_, "merge data/");
    if (o_.skip_data) {
      step.Skip("--skip-data");
      return;
    }
    auto src = DataSource();
    Progress progress("data/", 0, 0, o_.quiet || o_.json);
    sync::MergeOptions mo;
    mo.checksum = o_.checksum;
    mo.apply.set_owner = ::geteuid() == 0;
    mo.apply.progress = [&](const sync::ApplyStats& s) { progress.Update(s.items_done, s.bytes_written); };
    sync::MergeResult plan = sync::Merge(*src, to_.data_dir(), mo);
    const sync::ApplyStats& stats = plan.stats;
    rep_.data["plan"] = TotalsJson(plan.totals);
    progress.Done();
    rep_.data["merge"] = StatsJson(stats);
    if (agent_)
      rep_.data["wire"] = {{"bytes_received", agent_->bytes_in()}, {"bytes_sent", agent_->bytes_out()},
                           {"delta_files", static_cast<agent::AgentSource&>(*src).delta_files()}};
    rep_.Check("data/ content hashes", stats.hashes_checked >= stats.files_written,
               std::to_string(stats.hashes_checked) + " files read back and matched");
    step.Done(std::to_string(stats.files_written) + " files (" + HumanBytes(stats.bytes_written) + ") written, " +
              std::to_string(stats.attrs_updated) + " attributes updated, " + std::to_string(plan.totals.skip) +
              " unchanged, " + std::to_string(plan.totals.kept) + " target-only kept" +
              (stats.vanished ? ", " + std::to_string(stats.vanished) + " deleted at the source since the listing (not copied)" : ""));
  }

  void ReplayDb() {
    Step step(rep_, "replay database");
    if (o_.skip_db) {
      step.Skip("--skip-db");
      return;
    }
    Progress progress("database", 0, 0, o_.quiet || o_.json);
    db::ReplayOptions ro;
    ro.progress = [&](uint64_t b) { progress.Update(0, b); };
    db::ReplayResult r = db::Replay(*src_pg_, *dst_pg_, ro);
    progress.Done();
    rep_.database = {{"source", StateJson(r.source)}, {"target", StateJson(r.target)},
                     {"dump_bytes", r.dump_bytes}, {"roles_created", r.roles_created},
                     {"seconds", nlohmann::json::object()}};
    for (const auto& [name, secs] : r.timings) rep_.database["seconds"][name] = secs;
    if (agent_ && !agent_->abandoned())  // the dump came through the agent (RUN): its bytes on the wire
      rep_.database["wire"] = {{"via", "migrate-agent"}, {"agent_bytes_received", agent_->bytes_in()}};
    rep_.Check("database row counts and sequences", true,
               std::to_string(r.source.tables.size()) + " tables, " + std::to_string(r.source.sequences.size()) +
                   " sequences equal to the source");
    step.Done(std::to_string(r.source.tables.size()) + " tables, " + HumanBytes(r.dump_bytes) + " streamed");
  }

  void Restart() {
    Step step(rep_, "restart");
    if (o_.no_restart) {
      step.Skip("--no-restart");
      return;
    }
    CheckPorts();
    dst_stack_->Up();
    std::vector<std::string> services;
    for (const auto& s : to_.project.services) services.push_back(s.name);
    dst_stack_->WaitUp(services, std::chrono::seconds(o_.wait_seconds));
    rep_.Check("new stack up", true, std::to_string(services.size()) + " services of " + to_.project_name);
    step.Done("project " + to_.project_name);
  }

  // The new release's published host ports must not be held by another stack (on the same
  // server, usually the old release): checked in preflight, before anything changes, and
  // again right before the restart.
  void CheckPorts() {
    std::set<int> seen;
    for (const auto& s : to_.project.services)
      for (const auto& p : s.ports) {
        if (p.host_port == 0 || !seen.insert(p.host_port).second) continue;
        auto holders = docker::ContainersPublishing(p.host_port, to_.project_name);
        if (!holders.empty())
          Fail("port " + std::to_string(p.host_port) + " of service " + s.name + " is held by " + holders.front() +
               ": stop the old stack first (run again with --stop-old), give the new release another port, "
               "or use --no-restart");
      }
  }

  void AddRollbackHints() {
    if (!o_.skip_data && state_.backup_done)
      rep_.next_steps.push_back("data/ before the merge is in " + mdir_ + "/data.backup (rsync -a --delete it back)");
    if (!o_.skip_db && state_.dump_done && dst_pg_)
      rep_.next_steps.push_back("the database before the replay: " + DbRollbackCommand());
    rep_.next_steps.push_back("running " + rep_.command + " again resumes this migration");
  }

  // Puts the target database back as it was before the replay: dropped and recreated from
  // the safety dump with its own properties (pg_restore --create).
  std::string DbRollbackCommand() const {
    const std::string& u = to_.pg.user;
    return "docker exec -i " + to_.pg.container + " sh -c 'dropdb -U " + u + " --force " + to_.pg.db +
           " && pg_restore -U " + u + " --create -d postgres' < " + mdir_ + "/target-db.dump";
  }

  void AddNextSteps() {
    rep_.next_steps.push_back("test the new release (project " + to_.project_name + ", folder " + to_.dir + ")");
    if (!o_.stop_old)
      rep_.next_steps.push_back("when happy, stop the old one" + (remote_ ? " (on " + from_.host + ")" : std::string()) +
                                ": " + CommandLine(src_stack_->Command({"down"})));
    if (!o_.skip_data)
      rep_.next_steps.push_back("roll back data/: rsync -a --delete " + mdir_ + "/data.backup/ " + to_.data_dir() + "/");
    if (!o_.skip_db && dst_pg_) rep_.next_steps.push_back("roll back the database: " + DbRollbackCommand());
  }

  Options o_;
  std::optional<TempDir> mirror_;  // the old install's top-level files (remote)
  std::unique_ptr<ssh::Session> ssh_;
  std::unique_ptr<ssh::RemoteHost> remote_;
  std::unique_ptr<agent::AgentSession> agent_;
  std::unique_ptr<Host> dump_host_;
  Report rep_;
  Install from_, to_;
  std::string mroot_, mdir_;
  std::optional<docker::Stack> src_stack_, dst_stack_;
  std::optional<db::Postgres> src_pg_, dst_pg_;
  bool started_source_db_ = false, started_target_db_ = false;  // started by preflight
  int src_major_ = 0;
  uint64_t src_db_size_ = 0;
  RunState state_;
};

}  // namespace

Report RunMigration(const Options& o) {
  Migration m(o);
  return m.Run();
}

}  // namespace mig
