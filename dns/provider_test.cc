// What the DNS backends share: names compared as DNS does, zones looked up longest first.
#include "dns/provider.h"

#include <catch2/catch.hpp>

#include "core/error.h"

namespace mig::dns {

TEST_CASE("names compare without case and trailing dot") {
  CHECK(CanonicalName("WWW.Example.ORG.") == "www.example.org");
  CHECK(CanonicalName("www.example.org") == "www.example.org");
}

TEST_CASE("zone candidates run from the name down to two labels") {
  CHECK(ZoneCandidates("www.a.example.org.", "") ==
        std::vector<std::string>{"www.a.example.org", "a.example.org", "example.org"});
  CHECK(ZoneCandidates("example.org", "") == std::vector<std::string>{"example.org"});
  CHECK(ZoneCandidates("www.example.org", "Example.org.") == std::vector<std::string>{"example.org"});
  CHECK_THROWS_AS(ZoneCandidates("localhost", ""), Error);
}

TEST_CASE("an unknown provider is a usage error listing the known ones") {
  Update u;
  u.provider = "bind-over-carrier-pigeon";
  u.name = "www.example.org";
  try {
    OpenProvider(u);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()).find("use --provider with one of rfc2136") != std::string::npos);
  }
}

TEST_CASE("records join their addresses, or say nothing") {
  CHECK(ARecords{{}, 0}.Joined() == "nothing");
  CHECK(ARecords{{"192.0.2.1", "192.0.2.2"}, 60}.Joined() == "192.0.2.1 192.0.2.2");
  CHECK(IsIPv4("192.0.2.1"));
  CHECK_FALSE(IsIPv4("192.0.2"));
  CHECK_FALSE(IsIPv4("::1"));
}

}  // namespace mig::dns
