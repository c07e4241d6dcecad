// Options from flags and the environment: what migrate-local is told.
#include "migrate/options.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/error.h"

namespace mig {
namespace {

ErrorKind KindOf(Options& o, const compose::Env& env, bool to_given = false, bool dry_given = false) {
  try {
    ApplyEnvironment(o, env, to_given, dry_given);
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    return e.kind();
  }
  FAIL("no mig::Error thrown");
  throw;
}


}  // namespace

TEST_CASE("options take unset paths from the environment") {
  Options o;
  ApplyEnvironment(o, {{"FROM_PATH", "/srv/old"}, {"TO_PATH", "/srv/new"}, {"TO_PATH_TEMP", "/var/tmp/m"}},
                   false, false);
  CHECK(o.from_path == "/srv/old");
  CHECK(o.to_path == "/srv/new");
  CHECK(o.temp_dir == "/var/tmp/m");
  CHECK_FALSE(o.dry_run);
}

TEST_CASE("options let flags win over the environment") {
  Options o;
  o.from_path = "/flag/old";
  o.to_path = "/flag/new";
  o.temp_dir = "/flag/tmp";
  ApplyEnvironment(o, {{"FROM_PATH", "/env/old"}, {"TO_PATH", "/env/new"}, {"TO_PATH_TEMP", "/env/tmp"}},
                   true, false);
  CHECK(o.from_path == "/flag/old");
  CHECK(o.to_path == "/flag/new");
  CHECK(o.temp_dir == "/flag/tmp");
}

TEST_CASE("options default the target to the current folder") {
  Options o;
  o.from_path = "/srv/old";
  ApplyEnvironment(o, {}, false, false);
  CHECK(o.to_path == std::filesystem::current_path().string());
  CHECK(o.temp_dir.empty());
}

TEST_CASE("options read DRY_RUN only when the flag is not given") {
  Options o;
  o.from_path = "/srv/old";
  ApplyEnvironment(o, {{"DRY_RUN", "yes"}}, false, false);
  CHECK(o.dry_run);

  Options off;
  off.from_path = "/srv/old";
  ApplyEnvironment(off, {{"DRY_RUN", "0"}}, false, false);
  CHECK_FALSE(off.dry_run);

  Options flag;
  flag.from_path = "/srv/old";
  flag.dry_run = true;
  ApplyEnvironment(flag, {{"DRY_RUN", "0"}}, false, true);
  CHECK(flag.dry_run);
}

TEST_CASE("options without a source are a usage error") {
  Options o;
  CHECK(KindOf(o, {{"TO_PATH", "/srv/new"}}) == ErrorKind::kUsage);
  Options empty;
  CHECK(KindOf(empty, {{"FROM_PATH", ""}}) == ErrorKind::kUsage);
}

TEST_CASE("options refuse --skip-db with --skip-data") {
  Options o;
  o.from_path = "/srv/old";
  o.skip_db = o.skip_data = true;
  CHECK(KindOf(o, {}) == ErrorKind::kUsage);
}

TEST_CASE("options accept --skip-db alone and --skip-data alone") {
  Options a;
  a.from_path = "/srv/old";
  a.skip_db = true;
  CHECK_NOTHROW(ApplyEnvironment(a, {}, false, false));
  Options b;
  b.from_path = "/srv/old";
  b.skip_data = true;
  CHECK_NOTHROW(ApplyEnvironment(b, {}, false, false));
}

TEST_CASE("options refuse a wait that is not positive") {
  Options o;
  o.from_path = "/srv/old";
  o.wait_seconds = 0;
  CHECK(KindOf(o, {}) == ErrorKind::kUsage);
}

TEST_CASE("truthy accepts 1 true yes on in any case") {
  for (const char* v : {"1", "true", "TRUE", "Yes", "on", "ON"}) {
    INFO(v);
    CHECK(Truthy(v));
  }
  for (const char* v : {"", "0", "false", "no", "off", "2", "y", " true"}) {
    INFO(v);
    CHECK_FALSE(Truthy(v));
  }
}

TEST_CASE("dns hook options come from flags, then the environment, and OLD_IP defaults to NEW_IP") {
  Options o;
  o.from_path = "/srv/old";
  o.dns_hook.command = "true";
  ApplyEnvironment(o, {{"DNS_NAME", "www.example.org"}, {"NEW_IP", "192.0.2.20"}}, false, false);
  CHECK(o.dns_hook.dns_name == "www.example.org");
  CHECK(o.dns_hook.new_ip == "192.0.2.20");
  CHECK(o.dns_hook.old_ip == "192.0.2.20");

  Options bad;
  bad.from_path = "/srv/old";
  bad.dns_hook.command = "true";
  bad.dns_hook.new_ip = "not-an-ip";
  CHECK_THROWS_AS(ApplyEnvironment(bad, {}, false, false), Error);

  Options orphan;
  orphan.from_path = "/srv/old";
  orphan.dns_hook.dns_name = "www.example.org";
  CHECK_THROWS_AS(ApplyEnvironment(orphan, {}, false, false), Error);
}

}  // namespace mig
