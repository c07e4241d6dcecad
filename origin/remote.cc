// The old install on another server: SSH (libssh2), its programs through exec channels,
// migrate-agent for the tree and the database dump (docs/remote.md).
#include <cstdlib>
#include <mutex>

#include "agent/client.h"
#include "agent/wire.h"
#include "core/error.h"
#include "core/files.h"
#include "core/prefetch_host.h"
#include "core/recorded_host.h"
#include "install/remote_install.h"
#include "origin/origin.h"
#include "origin/shared_agent.h"
#include "ssh/remote_agent.h"
#include "ssh/remote_host.h"

namespace mig {

namespace {

// One SSH session to the old server; the agent started at its first need.
class RemoteOrigin : public Origin {
 public:
  explicit RemoteOrigin(const OriginSpec& spec)
      : sudo_(spec.sudo),
        through_agent_(spec.programs_through_agent),
        ssh_(std::make_unique<ssh::Session>(ssh::ParseTarget(spec.from), spec.ssh)),
        host_(*ssh_),
        agent_([this] { return StartAgent(); }),
        agent_host_(agent_.Programs(host_)),
        recorder_(RemoteRecorder(Direct())),
        concurrent_recorder_(through_agent_ ? RemoteRecorder(host_) : nullptr),
        prefetch_(recorder_ ? static_cast<const Host&>(*recorder_) : Direct()) {
    checks_.emplace_back("ssh", ssh_->target().Show() + ", host key " + ssh_->host_key_fingerprint());
  }
  ~RemoteOrigin() override = default;

  std::string Where() const override { return ssh_->target().Show(); }
  const Host& host() override { return programs(); }
  bool SharesEngineWithThisHost() const override { return false; }
  std::vector<std::pair<std::string, std::string>> Checks() const override {
    std::lock_guard<std::mutex> lock(checks_mu_);
    return checks_;
  }
  std::string PeerIPv4() const override { return ssh_->PeerIPv4(); }
  Install LoadInstall(const std::string& path, const std::string& db_service, const std::string& project_override,
                      const compose::Env& env) override {
    if (!mirror_) mirror_.emplace("migrate-remote");
    return LoadRemoteInstall(programs(), path, db_service, project_override, env, mirror_->path());
  }
  bool IsFolder(const std::string& dir) override { return programs().Run({"test", "-d", dir}).ok(); }
  // LIST with the totals flag: the agent walks, sends only its totals (docs/protocol.md).
  uint64_t TreeBytes(const std::string& dir) override { return agent_.TreeBytes(dir, Show(dir)); }
  std::unique_ptr<sync::Source> OpenTree(const std::string& dir, const std::string& spool_dir) override {
    return agent_.OpenTree(dir, Show(dir), spool_dir);
  }
  const Host& DumpHost() override { return programs(); }
  // Exec channels: no turn on the agent's session (recorded too, when recording).
  const Host& ConcurrentHost() override {
    if (concurrent_recorder_) return *concurrent_recorder_;
    if (recorder_ && !through_agent_) return *recorder_;
    return host_;
  }
  nlohmann::json Wire() const override { return agent_.Wire(); }
  void Close() override { agent_.Close(); }
  void Prefetch(const std::vector<std::vector<std::string>>& argvs) override {
    // The agent refuses (and ends on) a RUN argument over kMaxPath: such questions go one by one.
    prefetch_.Prefetch(argvs, std::chrono::seconds(60), through_agent_ ? agent::kMaxPath : 0);
  }

 private:
  // MIGRATE_RECORD_PROGRAMS=FILE records the old server's programs too, in FILE.remote
  // (profiling: bench/fixed.sh).
  static std::unique_ptr<RecordingHost> RemoteRecorder(const Host& inner) {
    const char* file = std::getenv("MIGRATE_RECORD_PROGRAMS");
    if (!file || !*file) return nullptr;
    return std::make_unique<RecordingHost>(inner, std::string(file) + ".remote", "");
  }
  // Where the programs run: the agent's RUN, or exec channels (the recorder and the answers
  // asked ahead stand in front of it).
  const Host& Direct() const { return through_agent_ ? *agent_host_ : static_cast<const Host&>(host_); }
  const Host& programs() const { return prefetch_; }

  // Run by agent_ at its first need, inside its turn.
  std::unique_ptr<agent::AgentSession> StartAgent() {
    auto s = ssh::StartRemoteAgent(*ssh_, agent::AgentBesideMe(), sudo_);
    std::lock_guard<std::mutex> lock(checks_mu_);
    checks_.emplace_back("agent", "migrate-agent " + s->hello().program_version + " on " + Where());
    return s;
  }

  bool sudo_;
  bool through_agent_;
  std::unique_ptr<ssh::Session> ssh_;
  ssh::RemoteHost host_;
  SharedAgent agent_;                        // declared after ssh_: closed before it
  std::unique_ptr<Host> agent_host_;         // programs without stdin through agent_
  std::unique_ptr<RecordingHost> recorder_;  // null unless recording
  std::unique_ptr<RecordingHost> concurrent_recorder_;  // the exec channels' beside the agent's (recording)
  PrefetchHost prefetch_;                    // in front of the programs' host: answers asked ahead
  std::optional<TempDir> mirror_;            // the old install's top-level files
  std::vector<std::pair<std::string, std::string>> checks_;
  mutable std::mutex checks_mu_;
};

}  // namespace

std::unique_ptr<Origin> OpenLocalOrigin(bool via_agent);

std::unique_ptr<Origin> OpenOrigin(const OriginSpec& spec) {
  if (spec.from.empty()) return OpenLocalOrigin(spec.via_agent);
  return std::make_unique<RemoteOrigin>(spec);
}

}  // namespace mig
