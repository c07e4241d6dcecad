#include "migrate/daemon_cmd.h"

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/process.h"
#include "daemon/api.h"
#include "daemon/config.h"
#include "daemon/runner.h"
#include "daemon/standby.h"

namespace mig {

void AddDaemonCommand(CLI::App& app, DaemonCommand& d) {
  d.cmd = app.add_subcommand("daemon",
                             "run the host daemon: scheduled backups with retention, a REST API (/api/backup, "
                             "/api/restore, ...) and a DR standby (docs/daemon.md); stops on SIGTERM or SIGINT");
  d.cmd->add_option("--config", d.config, "the daemon's configuration (YAML)")->capture_default_str();
  d.cmd->add_flag("--check", d.check, "check the configuration and exit");
}

int RunDaemonCommand(const DaemonCommand& d) {
  daemon::DaemonConfig cfg = daemon::LoadDaemonConfig(d.config);
  std::shared_ptr<daemon::TlsServer> tls;
  try {
    if (!cfg.tls_cert.empty() && !cfg.install.empty()) tls = daemon::LoadTls(cfg.tls_cert, cfg.tls_key);
  } catch (const Error& e) {
    BadInput(d.config + ": " + e.what());
  }
  if (d.check) {
    std::string what;
    if (!cfg.install.empty())
      what = "install " + cfg.install + ", repository " + cfg.repo + ", regular backups " +
             (cfg.backup.enableRegularBackups ? "on, " + cfg.backup.backupFrequency + " " + cfg.backup.timezone
                                              : std::string("off")) +
             ", keep the last " + std::to_string(cfg.backup.backupRetentionCount);
    if (cfg.standby)
      what += (what.empty() ? "" : "; ") + std::string("standby ") + cfg.standby->install + " restored from " +
              cfg.standby->repo + " (" + cfg.standby->frequency + " UTC)";
    std::cout << d.config << ": ok (" << what << ")\n";
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
  // The standby (its own state-folder lock) and the install's daemon: each only when configured.
  std::unique_ptr<daemon::Standby> standby;
  if (cfg.standby) standby = std::make_unique<daemon::Standby>(*cfg.standby, cfg.state_dir, exe);
  std::unique_ptr<daemon::Daemon> dmn;
  std::unique_ptr<daemon::Api> api;
  std::string token;
  if (!cfg.install.empty()) {
    token = daemon::LoadOrMakeToken(cfg.token_file);
    dmn = std::make_unique<daemon::Daemon>(cfg, exe);
  }
  TheLog().info("migrate daemon " MIGRATE_VERSION ": " +
                (dmn ? "install " + cfg.install + ", repository " + cfg.repo : std::string("no install of its own")) +
                (standby ? ", standby " + cfg.standby->install : std::string()) + ", state in " + cfg.state_dir);
  if (dmn) {
    dmn->Recover();
    dmn->AutoRestore();
    // The listing and status answers: `migrate backup ... --json` of the install.
    api = std::make_unique<daemon::Api>(*dmn, token, [d = dmn.get(), exe = std::string(exe)](const std::vector<std::string>& args) {
      std::vector<std::string> argv{exe};
      argv.insert(argv.end(), args.begin(), args.end());
      for (const auto& a : d->RepoArgs()) argv.push_back(a);
      Child c(argv, Proc::kStdout);
      std::string out, line;
      while (c.read_line(line)) out += line + "\n";
      const int code = c.wait();
      if (code == 0) return std::make_pair(code, out);
      const std::string why = daemon::FailureReason(c.err_text());
      return std::make_pair(code, why);
    });
  } else {
    TheLog().info("no install: no backups are made and the API is not served (a standby's daemon)");
  }
  std::atomic<bool> stop_api{false};
  std::exception_ptr api_error;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  auto stop_all = [&] {
    stop_api = true;
    if (dmn) dmn->Stop();
    if (standby) standby->Stop();
    std::lock_guard<std::mutex> g(mu);
    stopping = true;
    cv.notify_all();
  };
  std::thread server;
  if (api)
    server = std::thread([&] {
      try {
        daemon::Serve(*api, cfg.listen, tls.get(), stop_api);
      } catch (...) {
        api_error = std::current_exception();
        stop_all();
      }
    });
  std::thread standby_loop;
  std::exception_ptr standby_error;
  if (standby)
    standby_loop = std::thread([&] {
      try {
        standby->Run();
      } catch (...) {  // the daemon stops with it (exit 1), so that systemd restarts it
        standby_error = std::current_exception();
        stop_all();
      }
    });
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    if (!stop_api) TheLog().info(std::string("stopping (") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ")");
    stop_all();
  });
  auto join_all = [&] {
    stop_all();
    pthread_kill(signals.native_handle(), SIGTERM);  // its sigwait takes it: it ends before the rest
    signals.join();
    if (server.joinable()) server.join();
    if (standby_loop.joinable()) standby_loop.join();
  };
  try {
    if (dmn) {
      dmn->Run();
    } else {
      std::unique_lock<std::mutex> g(mu);
      cv.wait(g, [&] { return stopping; });
    }
  } catch (...) {
    join_all();
    throw;
  }
  join_all();
  if (api_error) std::rethrow_exception(api_error);
  if (standby_error) std::rethrow_exception(standby_error);
  TheLog().info("stopped");
  return 0;
}

}  // namespace mig
