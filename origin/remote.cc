// The old install on another server: SSH (libssh2), its programs through exec channels,
// migrate-agent for the tree and the database dump (docs/remote.md).
#include <cstdlib>

#include "agent/client.h"
#include "core/error.h"
#include "core/files.h"
#include "core/recorded_host.h"
#include "install/remote_install.h"
#include "origin/origin.h"
#include "ssh/remote_agent.h"
#include "ssh/remote_host.h"

namespace mig {

namespace {

// The old server as a pg_dump sees it: the dump (a program whose stdout is read) runs through
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

// One SSH session to the old server; the agent started at its first need.
class RemoteOrigin : public Origin {
 public:
  explicit RemoteOrigin(const OriginSpec& spec)
      : sudo_(spec.sudo),
        ssh_(std::make_unique<ssh::Session>(ssh::ParseTarget(spec.from), spec.ssh)),
        host_(*ssh_),
        recorder_(RemoteRecorder(host_)),
        dump_host_(programs(), [this]() -> agent::AgentSession& { return Agent(); }) {
    checks_.emplace_back("ssh", ssh_->target().Show() + ", host key " + ssh_->host_key_fingerprint());
  }
  ~RemoteOrigin() override = default;

  std::string Where() const override { return ssh_->target().Show(); }
  const Host& host() override { return programs(); }
  bool SharesEngineWithThisHost() const override { return false; }
  std::vector<std::pair<std::string, std::string>> Checks() const override { return checks_; }
  std::string PeerIPv4() const override { return ssh_->PeerIPv4(); }
  Install LoadInstall(const std::string& path, const std::string& db_service, const std::string& project_override,
                      const compose::Env& env) override {
    if (!mirror_) mirror_.emplace("migrate-remote");
    return LoadRemoteInstall(host_, path, db_service, project_override, env, mirror_->path());
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
  const Host& DumpHost() override { return dump_host_; }
  nlohmann::json Wire() const override {
    if (!agent_) return nullptr;
    return {{"bytes_received", agent_->bytes_in()}, {"bytes_sent", agent_->bytes_out()}};
  }
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
  const Host& programs() const { return recorder_ ? static_cast<const Host&>(*recorder_) : host_; }

  agent::AgentSession& Agent() {
    if (!agent_) {
      agent_ = ssh::StartRemoteAgent(*ssh_, agent::AgentBesideMe(), sudo_);
      checks_.emplace_back("agent", "migrate-agent " + agent_->hello().program_version + " on " + Where());
    }
    return *agent_;
  }

  bool sudo_;
  std::unique_ptr<ssh::Session> ssh_;
  ssh::RemoteHost host_;
  std::unique_ptr<RecordingHost> recorder_;  // null unless recording
  AgentDumpHost dump_host_;
  std::unique_ptr<agent::AgentSession> agent_;  // declared after ssh_: closed before it
  std::optional<TempDir> mirror_;               // the old install's top-level files
  std::vector<std::pair<std::string, std::string>> checks_;
};

}  // namespace

std::unique_ptr<Origin> OpenLocalOrigin(bool via_agent);

std::unique_ptr<Origin> OpenOrigin(const OriginSpec& spec) {
  if (spec.from.empty()) return OpenLocalOrigin(spec.via_agent);
  return std::make_unique<RemoteOrigin>(spec);
}

}  // namespace mig
