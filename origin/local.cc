// The old install as a folder on this server (migrate-local, merge-dir, check --from-path).
#include <filesystem>

#include "agent/client.h"
#include "install/room.h"
#include "origin/origin.h"
#include "origin/shared_agent.h"

namespace mig {

namespace {

// A folder on this server, read directly or (via_agent) through a local migrate-agent.
class LocalOrigin : public Origin {
 public:
  explicit LocalOrigin(bool via_agent)
      : via_agent_(via_agent), agent_([] {
          auto s = std::make_unique<agent::AgentSession>(agent::StartLocalAgent(agent::AgentBesideMe()));
          s->Handshake(MIGRATE_VERSION);
          return s;
        }) {}
  std::string Where() const override { return ""; }
  const Host& host() override { return ThisHost(); }
  bool SharesEngineWithThisHost() const override { return true; }
  std::vector<std::pair<std::string, std::string>> Checks() const override { return {}; }
  std::string PeerIPv4() const override { return ""; }
  Install LoadInstall(const std::string& path, const std::string& db_service, const std::string& project_override,
                      const compose::Env& env) override {
    return mig::LoadInstall(path, "source", db_service, project_override, env);
  }
  bool IsFolder(const std::string& dir) override {
    std::error_code ec;
    return std::filesystem::is_directory(dir, ec);
  }
  uint64_t TreeBytes(const std::string& dir) override { return mig::TreeBytes(dir); }
  std::unique_ptr<sync::Source> OpenTree(const std::string& dir, const std::string& spool_dir) override {
    if (!via_agent_) return sync::MakeLocalSource(dir);
    return agent_.OpenTree(dir, dir, spool_dir);
  }
  const Host& DumpHost() override { return ThisHost(); }
  const Host& ConcurrentHost() override { return ThisHost(); }
  nlohmann::json Wire() const override { return agent_.Wire(); }
  void Close() override { agent_.Close(); }

 private:
  bool via_agent_;
  SharedAgent agent_;  // started at the first OpenTree (via_agent)
};

}  // namespace

std::unique_ptr<Origin> OpenLocalOrigin(bool via_agent) { return std::make_unique<LocalOrigin>(via_agent); }

}  // namespace mig
