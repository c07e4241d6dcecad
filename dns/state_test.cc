// The record of the last cutover, read back as written, and damaged ones refused.
#include "dns/state.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/files.h"

namespace fs = std::filesystem;

namespace mig::dns {

TEST_CASE("cutover record reads back what an update wrote, without secrets") {
  TempDir d("dns-state-test");
  Update u;
  u.provider = "route53";
  u.name = "WWW.Example.org.";
  u.address = "192.0.2.20";
  u.ttl = 120;
  u.hosted_zone_id = "Z1";
  u.endpoint_url = "http://127.0.0.1:9";
  std::string path = SaveRecord(d.path(), RecordOf(u, ARecords{{"192.0.2.10"}, 3600}));
  CHECK(path == d.path() + "/dns/www.example.org.json");
  auto r = LoadRecord(d.path(), "www.example.org");
  REQUIRE(r);
  CHECK(r->name == "www.example.org");
  CHECK(r->provider == "route53");
  CHECK(r->hosted_zone_id == "Z1");
  CHECK(r->endpoint_url == "http://127.0.0.1:9");
  CHECK(r->previous == std::vector<std::string>{"192.0.2.10"});
  CHECK(r->previous_ttl == 3600);
  CHECK(r->address == "192.0.2.20");
  CHECK(r->ttl == 120);
  CHECK_FALSE(r->at.empty());
}

TEST_CASE("cutover record is absent for a name never updated") {
  TempDir d("dns-state-test");
  CHECK_FALSE(LoadRecord(d.path(), "www.example.org"));
}

TEST_CASE("cutover record that is damaged is refused as bad input") {
  TempDir d("dns-state-test");
  fs::create_directories(d.path() + "/dns");
  for (const char* text : {"{not json", R"({"format":"migrate-dns-cutover/1","name":"www.example.org",
      "provider":"rfc2136","previous":["not-an-ip"],"address":"192.0.2.1"})",
                           R"({"format":"other/9"})"}) {
    std::ofstream(d.path() + "/dns/www.example.org.json") << text;
    try {
      LoadRecord(d.path(), "www.example.org");
      FAIL("no error for " << text);
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInput);
      CHECK(std::string(e.what()).find("--to OLD_IP") != std::string::npos);
    }
  }
}

TEST_CASE("cutover record is put back as kept, or removed when there was none") {
  TempDir d("dns-state-test");
  Update u;
  u.provider = "rfc2136";
  u.name = "www.example.org";
  u.address = "192.0.2.20";
  KeptRecord none = KeepRecord(d.path(), u.name);
  CHECK_FALSE(none.text);
  SaveRecord(d.path(), RecordOf(u, ARecords{{"192.0.2.10"}, 300}));
  RestoreRecord(none);
  CHECK_FALSE(fs::exists(none.path));

  SaveRecord(d.path(), RecordOf(u, ARecords{{"192.0.2.10"}, 300}));
  KeptRecord first = KeepRecord(d.path(), u.name);
  u.address = "192.0.2.30";
  SaveRecord(d.path(), RecordOf(u, ARecords{{"192.0.2.20"}, 300}));
  RestoreRecord(first);
  auto r = LoadRecord(d.path(), u.name);
  REQUIRE(r);
  CHECK(r->address == "192.0.2.20");
  CHECK(r->previous == std::vector<std::string>{"192.0.2.10"});
}

TEST_CASE("cutover record path refuses names that are not DNS names") {
  CHECK_THROWS_AS(RecordPath("/tmp", "../etc/passwd"), Error);
  CHECK_THROWS_AS(RecordPath("/tmp", ""), Error);
}

TEST_CASE("state dir is the flag, else MIGRATE_STATE_DIR, else XDG_STATE_HOME/migrate") {
  CHECK(StateDir("/flag") == "/flag");
  ::setenv("MIGRATE_STATE_DIR", "/env/state", 1);
  CHECK(StateDir("") == "/env/state");
  ::unsetenv("MIGRATE_STATE_DIR");
  ::setenv("XDG_STATE_HOME", "/xdg", 1);
  CHECK(StateDir("") == "/xdg/migrate");
  ::unsetenv("XDG_STATE_HOME");
}

}  // namespace mig::dns
