// The old install on another server: SSH (libssh2), its programs through exec channels,
// migrate-agent for the tree and the database dump (docs/remote.md).
#include <cstdlib>
#include <mutex>

#include "agent/client.h"
#include "core/error.h"
#include "core/files.h"
#include "core/recorded_host.h"
#include "install/remote_install.h"
#include "origin/agent_wire.h"
#include "origin/origin.h"
#include "ssh/remote_agent.h"
#include "ssh/remote_host.h"

namespace mig {

namespace {

// The old server's programs. Those that read no stdin run through migrate-agent (RUN): one
// connection, no login each (a login costs 0.1-0.9 s on real servers: profiles, motd); those
// that need stdin get an exec channel of their own. RUNs are one at a time on the agent's
// session (a started one holds it until it ends); REQUIRES nothing else uses that session
// meanwhile (the merge's AgentSource runs in its own step).
class AgentHost : public Host {
 public:
  AgentHost(const Host& remote, std::function<agent::AgentSession&()> agent)
      : remote_(remote), agent_(std::move(agent)) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    if (!input.empty()) return remote_.Run(argv, input, timeout);
    std::lock_guard<std::mutex> lock(mu_);
    auto p = agent::RunThroughAgent(agent_(), argv);
    ProcResult r;
    char buf[65536];
    for (size_t n; (n = p->read(buf, sizeof buf)) > 0;) {
      r.out.append(buf, n);
      if (r.out.size() > kMaxOut) {
        p->kill();
        Fail(CommandLine(argv) + " on " + remote_.Describe() + " printed more than " + std::to_string(kMaxOut >> 20) +
             " MiB: not what migrate asked for");
      }
    }
    r.code = p->wait();
    r.err = p->err_text();
    return r;
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    if (pipes != Proc::kStdout) return remote_.Start(argv, pipes);
    std::unique_lock<std::mutex> lock(mu_);
    return std::make_unique<HeldProc>(agent::RunThroughAgent(agent_(), argv), std::move(lock));
  }
  std::string Describe() const override { return remote_.Describe(); }

 private:
  static constexpr size_t kMaxOut = 64 << 20;
  // A RUN holding the session's lock until it is destroyed.
  class HeldProc : public Proc {
   public:
    HeldProc(std::unique_ptr<Proc> p, std::unique_lock<std::mutex> lock) : p_(std::move(p)), lock_(std::move(lock)) {
      command_ = p_->command();
    }
    size_t read(char* buf, size_t len) override { return p_->read(buf, len); }
    void write(const char* buf, size_t len) override { p_->write(buf, len); }
    void close_stdin() override { p_->close_stdin(); }
    int wait() override { return p_->wait(); }
    void kill() override { p_->kill(); }
    std::string err_text() const override { return p_->err_text(); }

   private:
    std::unique_ptr<Proc> p_;
    std::unique_lock<std::mutex> lock_;
  };
  const Host& remote_;
  std::function<agent::AgentSession&()> agent_;
  mutable std::mutex mu_;
};

// One SSH session to the old server; the agent started at its first need.
class RemoteOrigin : public Origin {
 public:
  explicit RemoteOrigin(const OriginSpec& spec)
      : sudo_(spec.sudo),
        through_agent_(spec.programs_through_agent),
        ssh_(std::make_unique<ssh::Session>(ssh::ParseTarget(spec.from), spec.ssh)),
        host_(*ssh_),
        agent_host_(host_, [this]() -> agent::AgentSession& { return Agent(); }),
        recorder_(RemoteRecorder(through_agent_ ? static_cast<const Host&>(agent_host_) : host_)) {
    checks_.emplace_back("ssh", ssh_->target().Show() + ", host key " + ssh_->host_key_fingerprint());
  }
  ~RemoteOrigin() override = default;

  std::string Where() const override { return ssh_->target().Show(); }
  const Host& host() override { return programs(); }
  bool SharesEngineWithThisHost() const override { return false; }
  std::vector<std::pair<std::string, std::string>> Checks() const override {
    std::lock_guard<std::mutex> lock(agent_mu_);
    return checks_;
  }
  std::string PeerIPv4() const override { return ssh_->PeerIPv4(); }
  Install LoadInstall(const std::string& path, const std::string& db_service, const std::string& project_override,
                      const compose::Env& env) override {
    if (!mirror_) mirror_.emplace("migrate-remote");
    return LoadRemoteInstall(programs(), path, db_service, project_override, env, mirror_->path());
  }
  bool IsFolder(const std::string& dir) override { return programs().Run({"test", "-d", dir}).ok(); }
  uint64_t TreeBytes(const std::string& dir) override {
    // LIST with the totals flag: the agent walks, sends only its totals (docs/protocol.md).
    agent::AgentSource src(Agent(), dir, Show(dir), "");
    return src.Totals().bytes;
  }
  std::unique_ptr<sync::Source> OpenTree(const std::string& dir, const std::string& spool_dir) override {
    return std::make_unique<agent::AgentSource>(Agent(), dir, Show(dir), spool_dir);
  }
  const Host& DumpHost() override { return programs(); }
  const Host& ConcurrentHost() override { return host_; }  // thread-safe: serialized on the session
  nlohmann::json Wire() const override { return AgentWire(agent_.get()); }
  void Close() override {
    if (agent_) agent_->Close();
  }

 private:
  // MIGRATE_RECORD_PROGRAMS=FILE records the old server's programs too, in FILE.remote
  // (profiling: bench/fixed.sh).
  static std::unique_ptr<RecordingHost> RemoteRecorder(const Host& inner) {
    const char* file = std::getenv("MIGRATE_RECORD_PROGRAMS");
    if (!file || !*file) return nullptr;
    return std::make_unique<RecordingHost>(inner, std::string(file) + ".remote", "");
  }
  const Host& programs() const {
    if (recorder_) return *recorder_;
    return through_agent_ ? static_cast<const Host&>(agent_host_) : host_;
  }

  agent::AgentSession& Agent() {
    std::lock_guard<std::mutex> lock(agent_mu_);  // started once, whichever thread asks first
    if (!agent_) {
      agent_ = ssh::StartRemoteAgent(*ssh_, agent::AgentBesideMe(), sudo_);
      checks_.emplace_back("agent", "migrate-agent " + agent_->hello().program_version + " on " + Where());
    }
    return *agent_;
  }

  bool sudo_;
  bool through_agent_;
  std::unique_ptr<ssh::Session> ssh_;
  ssh::RemoteHost host_;
  AgentHost agent_host_;
  std::unique_ptr<RecordingHost> recorder_;  // null unless recording
  std::unique_ptr<agent::AgentSession> agent_;  // declared after ssh_: closed before it
  std::optional<TempDir> mirror_;               // the old install's top-level files
  std::vector<std::pair<std::string, std::string>> checks_;
  mutable std::mutex agent_mu_;  // agent_ and checks_
};

}  // namespace

std::unique_ptr<Origin> OpenLocalOrigin(bool via_agent);

std::unique_ptr<Origin> OpenOrigin(const OriginSpec& spec) {
  if (spec.from.empty()) return OpenLocalOrigin(spec.via_agent);
  return std::make_unique<RemoteOrigin>(spec);
}

}  // namespace mig
