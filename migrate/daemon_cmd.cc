#include "migrate/daemon_cmd.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "daemon/config.h"
#include "daemon/runner.h"

namespace mig {

void AddDaemonCommand(CLI::App& app, DaemonCommand& d) {
  d.cmd = app.add_subcommand("daemon",
                             "run the host daemon: scheduled backups with retention, jobs journalled "
                             "(docs/daemon.md); stops on SIGTERM or SIGINT");
  d.cmd->add_option("--config", d.config, "the daemon's configuration (YAML)")->capture_default_str();
  d.cmd->add_flag("--check", d.check, "check the configuration and exit");
}

int RunDaemonCommand(const DaemonCommand& d) {
  daemon::DaemonConfig cfg = daemon::LoadDaemonConfig(d.config);
  if (d.check) {
    std::cout << d.config << ": ok (install " << cfg.install << ", repository " << cfg.repo << ", regular backups "
              << (cfg.backup.enableRegularBackups ? "on, " + cfg.backup.backupFrequency + " " + cfg.backup.timezone
                                                  : std::string("off"))
              << ", keep the last " << cfg.backup.backupRetentionCount << ")\n";
    return 0;
  }
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) Fail("cannot find this program's path (/proc/self/exe): " + ErrnoString());
  exe[n] = 0;
  // SIGTERM and SIGINT are waited for by one thread; every other thread (and every program
  // started: core/process unblocks them) inherits them blocked.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  daemon::Daemon dmn(cfg, exe);
  TheLog().info("migrate daemon " MIGRATE_VERSION ": install " + cfg.install + ", repository " + cfg.repo +
                ", state in " + cfg.state_dir);
  dmn.Recover();
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    TheLog().info(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
    dmn.Stop();
  });
  signals.detach();  // it ends with the process if no signal comes
  dmn.Run();
  TheLog().info("stopped");
  return 0;
}

}  // namespace mig
