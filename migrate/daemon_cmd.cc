#include "migrate/daemon_cmd.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/process.h"
#include "daemon/api.h"
#include "daemon/config.h"
#include "daemon/runner.h"

namespace mig {

void AddDaemonCommand(CLI::App& app, DaemonCommand& d) {
  d.cmd = app.add_subcommand("daemon",
                             "run the host daemon: scheduled backups with retention and a REST API "
                             "(/api/backup, /api/restore, ...: docs/daemon.md); stops on SIGTERM or SIGINT");
  d.cmd->add_option("--config", d.config, "the daemon's configuration (YAML)")->capture_default_str();
  d.cmd->add_flag("--check", d.check, "check the configuration and exit");
}

int RunDaemonCommand(const DaemonCommand& d) {
  daemon::DaemonConfig cfg = daemon::LoadDaemonConfig(d.config);
  std::shared_ptr<daemon::TlsServer> tls;
  try {
    if (!cfg.tls_cert.empty()) tls = daemon::LoadTls(cfg.tls_cert, cfg.tls_key);
  } catch (const Error& e) {
    BadInput(d.config + ": " + e.what());
  }
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
  const std::string token = daemon::LoadOrMakeToken(cfg.token_file);
  daemon::Daemon dmn(cfg, exe);
  TheLog().info("migrate daemon " MIGRATE_VERSION ": install " + cfg.install + ", repository " + cfg.repo +
                ", state in " + cfg.state_dir);
  dmn.Recover();
  dmn.AutoRestore();
  // The listing and status answers: `migrate backup ... --json` of the install.
  daemon::Api api(dmn, token, [&dmn, exe = std::string(exe)](const std::vector<std::string>& args) {
    std::vector<std::string> argv{exe};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& a : dmn.RepoArgs()) argv.push_back(a);
    Child c(argv, Proc::kStdout);
    std::string out, line;
    while (c.read_line(line)) out += line + "\n";
    const int code = c.wait();
    if (code == 0) return std::make_pair(code, out);
    const std::string why = daemon::FailureReason(c.err_text());
    return std::make_pair(code, why);
  });
  std::atomic<bool> stop_api{false};
  std::exception_ptr api_error;
  std::thread server([&] {
    try {
      daemon::Serve(api, cfg.listen, tls.get(), stop_api);
    } catch (...) {
      api_error = std::current_exception();
      dmn.Stop();
    }
  });
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    if (!stop_api) TheLog().info(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
    stop_api = true;
    dmn.Stop();
  });
  try {
    dmn.Run();
  } catch (...) {
    stop_api = true;
    dmn.Stop();
    pthread_kill(signals.native_handle(), SIGTERM);  // its sigwait takes it: it ends before dmn does
    signals.join();
    server.join();
    throw;
  }
  stop_api = true;
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  server.join();
  if (api_error) std::rethrow_exception(api_error);
  TheLog().info("stopped");
  return 0;
}

}  // namespace mig
