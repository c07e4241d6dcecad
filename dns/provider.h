// The interface every DNS backend implements, one file each (rfc2136.cc, route53.cc,
// cloudflare.cc, command.cc); dns/cutover.cc drives them and knows none by name.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/dns.h"

namespace mig::dns {

// Bounds shared by the backends: one tool run or HTTP exchange, and the pause between polls.
constexpr std::chrono::seconds kToolTimeout(60);
constexpr std::chrono::milliseconds kPollInterval(500);

// One DNS backend, opened for one name. Methods throw mig::Error: kUsage for a missing or wrong
// setting, kFailed with the backend's reason (a refused key, an unknown zone, a timeout).
class Provider {
 public:
  virtual ~Provider() = default;

  // Where the record lives, for messages: "the DNS server 127.0.0.1:53", "Route 53 zone Z1".
  virtual std::string Where() const = 0;

  // The name's A records as the backend answers them now. nullopt: this backend cannot read
  // them (the command provider without --server); the caller then knows no old address.
  virtual std::optional<ARecords> Read() = 0;

  // Replaces the name's A records by `addresses` with `ttl`. `before` is what Read() returned
  // (or what the caller knows). Returns once the backend has accepted the change (Route 53:
  // INSYNC, within `wait`).
  virtual void Write(const std::vector<std::string>& addresses, int ttl, const ARecords& before,
                     std::chrono::seconds wait) = 0;
};

// How a backend is opened: checks the settings it needs in `u` (kUsage when one is missing).
using ProviderFactory = std::unique_ptr<Provider> (*)(const Update& u);

// The backends, in the order --help lists them. One line per backend in provider.cc.
std::unique_ptr<Provider> OpenRfc2136(const Update& u);
std::unique_ptr<Provider> OpenRoute53(const Update& u);
std::unique_ptr<Provider> OpenCloudflare(const Update& u);
std::unique_ptr<Provider> OpenCommand(const Update& u);

// The backend u.provider names. Throws mig::Error (usage) for an unknown name.
std::unique_ptr<Provider> OpenProvider(const Update& u);

// Adds a backend under `name` for the life of this object, before the table's (a test's
// in-memory provider: dns/cutover_test.cc). One at a time; set before other threads run.
class ScopedProvider {
 public:
  ScopedProvider(std::string name, ProviderFactory open);
  ~ScopedProvider();
  ScopedProvider(const ScopedProvider&) = delete;
  ScopedProvider& operator=(const ScopedProvider&) = delete;
};

// The zones a name may belong to, longest first: www.a.example.org -> www.a.example.org,
// a.example.org, example.org (an API backend asks for each until one exists); just `zone`
// when given.
std::vector<std::string> ZoneCandidates(const std::string& name, const std::string& zone);

}  // namespace mig::dns
