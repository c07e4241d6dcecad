// The cutover's order and failure paths on an in-memory provider (no DNS server): what is
// recorded before the change, what a failed change leaves, and the rollback.
#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/files.h"
#include "dns/dns.h"
#include "dns/provider.h"
#include "dns/state.h"

using namespace mig;
using namespace mig::dns;

namespace {

// The zone as the in-memory provider holds it, and how its next Write behaves.
struct MemoryZone {
  ARecords record;
  enum class NextWrite { kApply, kRefuse, kApplyThenTimeOut } next = NextWrite::kApply;
  int writes = 0;
};
MemoryZone g_zone;

// A provider whose record lives in g_zone.
class MemoryProvider : public Provider {
 public:
  std::string Where() const override { return "the in-memory zone"; }
  std::optional<ARecords> Read() override { return g_zone.record; }
  void Write(const std::vector<std::string>& addresses, int ttl, const ARecords&, std::chrono::seconds) override {
    ++g_zone.writes;
    if (g_zone.next == MemoryZone::NextWrite::kRefuse) Fail("the in-memory zone refused the change: bad key");
    g_zone.record = {addresses, ttl};
    if (g_zone.next == MemoryZone::NextWrite::kApplyThenTimeOut) Fail("the in-memory zone did not confirm in time");
  }
};

std::unique_ptr<Provider> OpenMemory(const Update&) { return std::make_unique<MemoryProvider>(); }

struct Fixture {
  TempDir state{"dns-test"};
  ScopedProvider provider{"memory", OpenMemory};
  Fixture() { g_zone = MemoryZone{{{"192.0.2.10"}, 300}}; }
  Update To(const std::string& address) const {
    Update u;
    u.provider = "memory";
    u.name = "www.example.org";
    u.address = address;
    u.state_dir = state.path();
    u.wait_seconds = 1;
    return u;
  }
};

}  // namespace

TEST_CASE("a cutover records what the name had, points it at the new address, and --rollback points it back") {
  Fixture f;
  CutoverResult r = Apply(f.To("192.0.2.20"));
  CHECK(r.before.addresses == std::vector<std::string>{"192.0.2.10"});
  CHECK(r.verified);
  CHECK(g_zone.record.addresses == std::vector<std::string>{"192.0.2.20"});
  Update back = f.To("");
  back.provider = "";  // taken from the record
  Rollback(back);
  CHECK(g_zone.record.addresses == std::vector<std::string>{"192.0.2.10"});
  CHECK(g_zone.record.ttl == 300);
}

TEST_CASE("a refused cutover leaves the name and the record of the last cutover as they were") {
  Fixture f;
  Apply(f.To("192.0.2.20"));
  const std::string recorded = *ReadSmallFile(RecordPath(f.state.path(), "www.example.org"));
  g_zone.next = MemoryZone::NextWrite::kRefuse;
  CHECK_THROWS_WITH(Apply(f.To("192.0.2.30")), Catch::Contains("bad key"));
  CHECK(g_zone.record.addresses == std::vector<std::string>{"192.0.2.20"});
  CHECK(*ReadSmallFile(RecordPath(f.state.path(), "www.example.org")) == recorded);
}

TEST_CASE("a cutover that landed but timed out keeps its record, so that --rollback still works") {
  Fixture f;
  g_zone.next = MemoryZone::NextWrite::kApplyThenTimeOut;
  CHECK_THROWS_WITH(Apply(f.To("192.0.2.20")), Catch::Contains("did not confirm"));
  CHECK(g_zone.record.addresses == std::vector<std::string>{"192.0.2.20"});
  g_zone.next = MemoryZone::NextWrite::kApply;
  Update back = f.To("");
  back.provider = "";
  Rollback(back);
  CHECK(g_zone.record.addresses == std::vector<std::string>{"192.0.2.10"});
}
