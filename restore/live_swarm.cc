#include "restore/live_swarm.h"

#include <filesystem>

#include "backup/catalog.h"
#include "backup/volume.h"
#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timer.h"
#include "db/dump.h"
#include "pipeline/merge_step.h"

namespace fs = std::filesystem;

namespace mig {

std::optional<docker::Swarm> OldStack(Origin& origin, const std::string& project) {
  docker::SwarmInfo info;
  try {
    info = docker::ProbeSwarm(origin.host());
  } catch (const Error&) {  // no engine answers: the compose path says so in its own words
    return std::nullopt;
  }
  if (!info.active || !info.manager || !docker::Stacks(origin.host()).count(project)) return std::nullopt;
  return docker::ReadSwarm(project, info, origin.host());
}

namespace {

// A live volume's tar: files that changed while they were read (tar's exit 1) are logged, as a
// backup without --suspend does; any other failure stays one.
class LiveTar : public Proc {
 public:
  LiveTar(std::unique_ptr<Proc> tar, std::string what) : tar_(std::move(tar)), what_(std::move(what)) {
    command_ = tar_->command();
  }
  size_t read(char* buf, size_t len) override { return tar_->read(buf, len); }
  void write(const char* buf, size_t len) override { tar_->write(buf, len); }
  void close_stdin() override { tar_->close_stdin(); }
  int wait() override {
    const int code = tar_->wait();
    if (code != 1) return code;
    TheLog().warn(what_ + ": files changed while they were read (" + TrimEnd(tar_->err_text()) +
                  "); the copy has what was read");
    return 0;
  }
  void kill() override { tar_->kill(); }
  std::string err_text() const override { return tar_->err_text(); }

 private:
  std::unique_ptr<Proc> tar_;
  std::string what_;
};

}  // namespace

LiveSwarmSource::LiveSwarmSource(const Options& o, Origin& origin, Install old, docker::Swarm swarm, NodeDefaults nodes,
                                 std::string spool_dir)
    : o_(o),
      origin_(origin),
      old_(std::move(old)),
      swarm_(std::move(swarm)),
      spool_(std::move(spool_dir)),
      scaled_(origin.host()) {
  const backup::SwarmBackupPlan plan = backup::PlanSwarmBackup(swarm_, old_.db_service);
  m_.id = "live";
  m_.timestamp = backup::TimestampNow();
  m_.status = "ready";
  m_.path = old_.dir;
  m_.version = old_.version;
  m_.project = swarm_.stack;
  for (const auto& s : old_.project.services) m_.services.push_back(s.name);
  m_.swarm = plan.part;
  hosts_.emplace(swarm_, std::move(nodes));
  for (const auto& v : m_.swarm->volumes) hosts_->Open(v.node);
  if (!old_.db_service.empty()) {
    hosts_->Open(plan.db_node);
    const Host& h = hosts_->Of(plan.db_node);
    db::PgTarget t = old_.pg;
    t.container = docker::TaskContainer(h, plan.db_task_service, plan.db_node);
    t.host = &h;
    t.label = "old";
    pg_.emplace(t);
    db::LiveDump probe(*pg_, "the old database");
    backup::DbPart db;
    db.major = probe.Major();
    db.name = old_.pg.db, db.user = old_.pg.user, db.service = old_.db_service;
    db.roles = probe.Roles();
    db.locale = probe.Locale();
    m_.db = db;
  }
}

LiveSwarmSource::~LiveSwarmSource() = default;

std::string LiveSwarmSource::Describe() const {
  return "the stack " + swarm_.stack + " on the Swarm of " + origin_.Show(old_.dir);
}

void LiveSwarmSource::Config(const std::string&, const std::vector<std::string>&) {
  Fail("internal error: a migration keeps the new release's configuration");
}

void LiveSwarmSource::Data(const std::string&, const std::vector<std::string>&) {
  Fail("internal error: a migration merges data/ into the new release's");
}

void LiveSwarmSource::MergeData(const Install& to, bool dry_run, Report& rep) {
  if (!origin_.IsFolder(old_.data_dir())) {
    Step step(rep, dry_run ? "plan data/" : "merge data/");
    step.Skip("the old install has no data/ (" + origin_.Show(old_.data_dir()) + ")");
    return;
  }
  Sides s;
  s.from = old_;
  s.to = to;
  if (dry_run)
    PlanData(o_, origin_, s, rep);
  else
    mig::MergeData(o_, origin_, s, rep);
}

std::string LiveSwarmSource::StopWriters(bool db_too) {
  if (!o_.stop_old) return "";
  std::vector<std::pair<std::string, int>> stop;
  if (!db_too) {
    stop = docker::Writers(swarm_, old_.db_service);
  } else {
    for (const auto& svc : swarm_.services)
      if (svc.short_name == old_.db_service && !svc.global && svc.replicas > 0) stop.emplace_back(svc.name, svc.replicas);
  }
  if (stop.empty()) return "";
  scaled_.ToZero(stop, "on the old Swarm (--stop-old)");
  std::vector<std::string> names;
  for (const auto& w : stop) names.push_back(w.first);
  return Joined(names) + " scaled to 0 on the old Swarm";
}

void LiveSwarmSource::Keep() { scale_back_ = scaled_.Leave(); }

std::vector<std::string> LiveSwarmSource::NextSteps() const {
  const std::string where = origin_.Where().empty() ? std::string() : " (on " + origin_.Where() + ")";
  if (!scale_back_.empty())
    return {"the old stack " + swarm_.stack + "'s services are scaled to 0" + where + "; to bring them back: " +
                scale_back_,
            "when happy, remove the old stack" + where + ": docker stack rm " + swarm_.stack};
  return {"when happy, stop the old stack" + where + ": docker stack rm " + swarm_.stack + " (its volumes stay)"};
}

std::unique_ptr<db::DumpSource> LiveSwarmSource::Dump() {
  if (!pg_) Fail("internal error: the old stack has no database service");
  return std::make_unique<db::LiveDump>(*pg_, "the old database");
}

std::unique_ptr<Proc> LiveSwarmSource::Volume(const backup::SwarmPart::Volume& v) {
  const Host& h = hosts_->Of(v.node);
  const std::string dir = backup::VolumeMountpoint(h, v.name);
  if (dir.empty()) Fail("node " + v.node + " has no volume " + v.name + " although a task of " + v.service + " runs there");
  return std::make_unique<LiveTar>(h.Start(backup::TarOutArgv(dir), Proc::kStdout),
                                   "the volume " + v.name + " on node " + v.node);
}

}  // namespace mig
