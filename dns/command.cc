// The generic provider: an operator's own command (--command CMD), run by /bin/sh with
// DNS_NAME, NEW_IP, OLD_IP and TTL in its environment. It cannot read a record; with --server
// the authoritative server is asked instead.
#include "core/error.h"
#include "core/process.h"
#include "dns/provider.h"

namespace mig::dns {

namespace {

// How long the operator's command may run.
constexpr std::chrono::seconds kCommandTimeout(300);

// The command backend.
class Command : public Provider {
 public:
  explicit Command(const Update& u) : u_(u) {
    if (u_.command.empty())
      BadUsage("the command provider needs the command to run: --command CMD (it gets DNS_NAME, NEW_IP, OLD_IP, TTL)");
  }

  std::string Where() const override { return "the command '" + u_.command + "'"; }

  std::optional<ARecords> Read() override {
    if (u_.server.empty()) return std::nullopt;
    return QueryA(u_.server, u_.name);
  }

  void Write(const std::vector<std::string>& addresses, int ttl, const ARecords& before,
             std::chrono::seconds) override {
    std::string old_ip = before.addresses.empty() ? "" : before.Joined();
    std::string new_ip = ARecords{addresses, 0}.Joined();
    ProcResult r = RunCapture({"/bin/sh", "-c", u_.command}, {}, kCommandTimeout,
                              {{"DNS_NAME", u_.name}, {"NEW_IP", new_ip}, {"OLD_IP", old_ip},
                               {"TTL", std::to_string(ttl)}});
    if (!r.ok())
      Fail("the DNS command '" + u_.command + "' failed for " + u_.name + " (exit " + std::to_string(r.code) +
           "): " + r.error_tail());
  }

 private:
  Update u_;
};

}  // namespace

std::unique_ptr<Provider> OpenCommand(const Update& u) { return std::make_unique<Command>(u); }

}  // namespace mig::dns
