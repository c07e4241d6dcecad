#include "restore/promote.h"

#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/text.h"
#include "core/job_lock.h"
#include "core/log.h"
#include "core/timer.h"
#include "docker/docker.h"
#include "install/install.h"
#include "install/standby.h"
#include "pipeline/confirm.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

// The standby's state, refused when the folder is no standby or was promoted already.
StandbyState Unpromoted(const std::string& dir) {
  auto st = ReadStandbyState(dir);
  if (!st)
    BadInput(dir + " is not a standby: it has no " + StandbyStatePath(dir) +
             " (a standby is kept by a daemon's standby: block, or by migrate restore --standby)");
  if (st->promoted())
    Fail(dir + " was promoted already, at " + st->promoted_at + ": it is the primary (start it with docker compose "
         "up -d if its services are down)");  // exit 1, as a standby restore refused for it
  return *st;
}

// backup/promote-report.json: what the promotion did (written once it was recorded).
void WriteReport(const Report& rep, const std::string& dir) {
  try {
    rep.Write(dir + "/backup/promote-report.json");
  } catch (const Error& e) {
    TheLog().warn(e.what());
  }
}

}  // namespace

Report RunPromote(const PromoteOptions& o) {
  Report rep;
  rep.command = "standby promote";
  rep.started_at = UtcNow();
  rep.dry_run = o.dry_run;
  std::string dir = fs::weakly_canonical(fs::absolute(o.to_path.empty() ? "." : o.to_path)).string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  rep.to = dir;
  bool marked = false;
  try {
    StandbyState st;
    std::optional<Install> in;
    {
      Step step(rep, "check standby");
      st = Unpromoted(dir);
      in.emplace(LoadInstall(dir, "standby", o.db_service, o.project, ProcessEnv()));
      if (!st.version.empty() && st.version != in->version)
        Fail(dir + " runs release " + (in->version.empty() ? std::string("(no VERSION)") : in->version) +
             " but holds a backup of release " + st.version + ": upgrade the standby to " + st.version +
             " first (migrate-local), or restore a backup of its own release");
      rep.from = "backup " + st.timestamp + " (" + st.backup_id + ")";
      step.Done("holds backup " + st.timestamp + " (" + st.backup_id + ", release " + st.version + "), restored at " +
                st.restored_at);
    }
    std::vector<std::string> services;
    for (const auto& svc : in->project.services) services.push_back(svc.name);
    if (o.dry_run) {
      Step step(rep, "plan");
      step.Done("would record the promotion in " + StandbyStatePath(dir) + ", start " + Joined(services) +
                " (project " + in->project_name + ")" +
                (o.dns_hook.command.empty() ? std::string() : ", then run the DNS hook"));
      DnsHookStep(rep, o.dns_hook, true);
      rep.result = "ok";
      return rep;
    }
    ConfirmOrCancel(o.yes, "Promote " + dir + " (backup " + st.timestamp + ") to the primary: its services started, "
                           "no standby restore afterwards. The primary must be stopped first");
    JobLock lock(JobLockPath(dir), "a standby restore (or another job) is running on " + dir +
                                       ": promote once it has ended");
    lock.Describe("promotion of the standby");
    {
      Step step(rep, "record promotion");
      st = Unpromoted(dir);  // again, under the lock
      std::error_code ec;
      if (fs::exists(dir + "/restore/in-progress", ec))
        Fail("a restore into " + dir + " stopped half-way (" + dir + "/restore/in-progress): its data/ and database "
             "may be partly the next backup's; let the standby finish it (migrate restore " + st.backup_id +
             " --standby resumes it, or the daemon's next round), or roll it back with that run folder's "
             "report.json, then promote");
      st.promoted_at = UtcNow();
      WriteStandbyState(dir, st);
      marked = true;
      TheLog().info("promoted " + dir + ": no standby restore replaces it from now on");
      step.Done(StandbyStatePath(dir));
    }
    {
      Step step(rep, "start services");
      docker::Stack stack(docker::DetectCompose(), in->dir, in->project.file, in->project_name);
      stack.Up();
      stack.WaitUp(services, std::chrono::seconds(o.wait_seconds));
      rep.Check("stack up", true, std::to_string(services.size()) + " services of " + in->project_name);
      step.Done(Joined(services) + " running (project " + in->project_name + ")");
    }
    DnsHookStep(rep, o.dns_hook, false);
    rep.result = "ok";
    rep.next_steps.push_back("back the new primary up: install: " + dir + " in a daemon's configuration (and no "
                             "standby: block naming it)");
  } catch (const Error& e) {
    rep.result = "failed";
    rep.error = e.what();
    if (marked)
      rep.next_steps.push_back(dir + " is recorded as promoted (no standby restore replaces it); once the cause is "
                               "mended, start it: docker compose up -d in " + dir);
    else
      rep.next_steps.push_back("nothing was changed: " + dir + " is still a standby");
    if (marked) WriteReport(rep, dir);
    throw;
  }
  WriteReport(rep, dir);
  return rep;
}

}  // namespace mig
