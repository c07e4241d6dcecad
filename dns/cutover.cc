// The cutover as every provider does it: read what the name has, record it, write the new
// address, read it back; a rollback replays the record; lower-ttl rewrites with the same addresses.
#include <thread>

#include "core/error.h"
#include "dns/dns.h"
#include "dns/provider.h"
#include "dns/state.h"

namespace mig::dns {

namespace {

constexpr int kDefaultTtl = 300;      // an update's TTL when --ttl is not given
constexpr int kDefaultLowTtl = 60;    // lower-ttl's

void CheckCommon(Update& u) {
  if (u.provider.empty()) u.provider = "rfc2136";
  if (u.name.empty()) BadUsage("give the name: --name NAME");
  if (u.ttl < 0) BadUsage("--ttl must be a positive number of seconds");
  if (u.wait_seconds <= 0) BadUsage("--wait must be a positive number of seconds");
}

// Reads the record back until the provider answers `want` (and `ttl`, where it tells TTLs).
// Returns false when the provider cannot read.
bool Verify(Provider& p, const Update& u, const std::vector<std::string>& want, int ttl) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(u.wait_seconds);
  for (;;) {
    std::optional<ARecords> now = p.Read();
    if (!now) return false;
    if (now->addresses == want && (now->ttl == 0 || now->ttl == ttl)) return true;
    if (std::chrono::steady_clock::now() > deadline)
      Fail(p.Where() + " accepted the change but still answers " + now->Joined() +
           (now->ttl ? " (TTL " + std::to_string(now->ttl) + ")" : "") + " for " + u.name + " after " +
           std::to_string(u.wait_seconds) + " s: check again later, or run with a longer --wait");
    std::this_thread::sleep_for(kPollInterval);
  }
}

// True when the provider answers `address` alone for the name; false when it answers something
// else, cannot read, or fails.
bool Answers(Provider& p, const std::string& address) {
  try {
    std::optional<ARecords> now = p.Read();
    return now && now->addresses == std::vector<std::string>{address};
  } catch (const Error&) {
    return false;
  }
}

// The record of the name's last update, nullopt when there is none or it is damaged.
std::optional<CutoverRecord> LastRecord(const std::string& dir, const std::string& name) {
  try {
    return LoadRecord(dir, name);
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace

CutoverResult Apply(Update u) {
  CheckCommon(u);
  if (u.address.empty()) BadUsage("give the new address: --to IP (or --rollback to point the name back)");
  if (!IsIPv4(u.address)) BadUsage("'" + u.address + "' is not an IPv4 address");
  if (u.ttl == 0) u.ttl = kDefaultTtl;
  const std::string dir = StateDir(u.state_dir);
  RecordPath(dir, u.name);  // a usage error before anything is sent
  std::unique_ptr<Provider> p = OpenProvider(u);
  CutoverResult r;
  if (std::optional<ARecords> before = p->Read()) {
    r.before = *before;
  } else if (!u.old_ip.empty()) {
    if (!IsIPv4(u.old_ip)) BadUsage("--old-ip '" + u.old_ip + "' is not an IPv4 address");
    r.before.addresses = {u.old_ip};
  } else if (std::optional<CutoverRecord> last = LastRecord(dir, u.name)) {
    r.before.addresses = {last->address};  // what migrate set last: the best knowledge there is
  }
  r.where = p->Where();
  r.address = u.address;
  r.ttl = u.ttl;
  // Recorded before the change is sent, so that a change that is accepted but times out can
  // still be undone; put back as it was when the change did not happen.
  KeptRecord kept = KeepRecord(dir, u.name);
  r.state_path = SaveRecord(dir, RecordOf(u, r.before));
  try {
    p->Write({u.address}, u.ttl, r.before, std::chrono::seconds(u.wait_seconds));
  } catch (const Error&) {
    bool landed = r.before.addresses != std::vector<std::string>{u.address} && Answers(*p, u.address);
    if (!landed) RestoreRecord(kept);
    throw;
  }
  r.verified = Verify(*p, u, {u.address}, u.ttl);
  return r;
}

CutoverResult Rollback(Update u) {
  if (u.name.empty()) BadUsage("give the name: --name NAME");
  if (!u.address.empty())
    BadUsage("--rollback takes the address from the record of the last update: drop --to, or drop --rollback "
             "to set an address yourself");
  const std::string dir = StateDir(u.state_dir);
  const std::string path = RecordPath(dir, u.name);
  std::optional<CutoverRecord> rec = LoadRecord(dir, u.name);
  if (!rec)
    BadInput("no update of " + u.name + " is recorded (" + path + " does not exist): point it back with --to OLD_IP");
  if (u.provider.empty()) u.provider = rec->provider;
  if (u.provider != rec->provider)
    BadUsage("the last update of " + u.name + " went through " + rec->provider + " (" + path + "), not " +
             u.provider + ": drop --provider, or point it back with --to OLD_IP");
  if (rec->previous.empty())
    Fail("no address of " + u.name + " from before its last update is recorded (" + path +
         ": it had none, or the provider could not tell): there is nothing to point it back to; "
         "remove or set the record at the provider by hand");
  if (rec->previous.size() > 1)
    Fail(u.name + " had several addresses before its last update (" + ARecords{rec->previous, 0}.Joined() + ", " +
         path + "): migrate points a name at one address; set them at the provider by hand");
  auto fill = [](std::string& field, const std::string& recorded) {
    if (field.empty()) field = recorded;
  };
  fill(u.zone, rec->zone);
  fill(u.server, rec->server);
  fill(u.tsig_key, rec->tsig_key);
  fill(u.hosted_zone_id, rec->hosted_zone_id);
  fill(u.endpoint_url, rec->endpoint_url);
  fill(u.command, rec->command);
  u.address = rec->previous.front();
  if (u.ttl == 0) u.ttl = rec->previous_ttl;
  return Apply(u);
}

CutoverResult LowerTtl(Update u) {
  CheckCommon(u);
  if (u.ttl == 0) u.ttl = kDefaultLowTtl;
  std::unique_ptr<Provider> p = OpenProvider(u);
  std::optional<ARecords> now = p->Read();
  if (!now) {
    if (u.old_ip.empty() || !IsIPv4(u.old_ip))
      BadUsage("the " + u.provider + " provider cannot read " + u.name +
               "'s address: give the address it has now with --old-ip IP");
    now = ARecords{{u.old_ip}, 0};
  }
  if (now->addresses.empty()) Fail(p->Where() + " has no A record for " + u.name + ": there is no TTL to lower");
  p->Write(now->addresses, u.ttl, *now, std::chrono::seconds(u.wait_seconds));
  CutoverResult r;
  r.where = p->Where();
  r.ttl = u.ttl;
  r.before = *now;
  r.verified = Verify(*p, u, now->addresses, u.ttl);
  return r;
}

}  // namespace mig::dns
