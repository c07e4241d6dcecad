// RFC 2136 dynamic update through nsupdate(1) with a TSIG key, read back from the
// authoritative server with dig(1) (Debian's bind9-dnsutils).
#include <sstream>

#include "core/error.h"
#include "core/process.h"
#include "dns/provider.h"

namespace mig::dns {

namespace {

// The rfc2136 backend: one name at one authoritative server.
class Rfc2136 : public Provider {
 public:
  explicit Rfc2136(const Update& u) : u_(u) {
    if (u_.server.empty()) BadUsage("rfc2136 needs the authoritative server: --server HOST[:PORT]");
    if (u_.tsig_key.empty())
      BadUsage("rfc2136 needs a TSIG key file: --tsig-key FILE (as tsig-keygen writes it)");
    zone_ = u_.zone;
    if (zone_.empty()) {
      auto dot = u_.name.find('.');
      if (dot == std::string::npos) BadUsage("cannot tell the zone of '" + u_.name + "': give --zone");
      zone_ = u_.name.substr(dot + 1);
    }
  }

  std::string Where() const override { return "the DNS server " + u_.server; }

  std::optional<ARecords> Read() override { return QueryA(u_.server, u_.name); }

  void Write(const std::vector<std::string>& addresses, int ttl, const ARecords&, std::chrono::seconds) override {
    std::ostringstream updates;
    updates << "update delete " << u_.name << " A\n";
    for (const auto& a : addresses) updates << "update add " << u_.name << " " << ttl << " A " << a << "\n";
    Send(updates.str());
  }

 private:
  // Sends `updates` (nsupdate "update ..." lines) to the server in one transaction; explains
  // a refusal.
  void Send(const std::string& updates) {
    auto [host, port] = SplitServer(u_.server);
    std::string script = "server " + host + " " + port + "\nzone " + zone_ + "\n" + updates + "send\n";
    ProcResult r = RunCapture({"nsupdate", "-k", u_.tsig_key}, script, kToolTimeout);
    if (r.ok()) return;
    std::string why = r.last_error_line();
    std::string all = r.err + r.out;
    if (all.find("BADSIG") != std::string::npos || all.find("BADKEY") != std::string::npos)
      Fail("the DNS server " + u_.server + " refused the update of " + u_.name + ": the TSIG key is wrong (" + why +
           "); check --tsig-key " + u_.tsig_key);
    if (all.find("REFUSED") != std::string::npos || all.find("NOTAUTH") != std::string::npos)
      Fail("the DNS server " + u_.server + " refused the update of " + u_.name + " in zone " + zone_ + " (" + why +
           "): is it authoritative for the zone, and does it allow this key to update it?");
    Fail("nsupdate could not update " + u_.name + " at " + u_.server + ": " + why);
  }

  Update u_;
  std::string zone_;
};

}  // namespace

std::unique_ptr<Provider> OpenRfc2136(const Update& u) { return std::make_unique<Rfc2136>(u); }

}  // namespace mig::dns
