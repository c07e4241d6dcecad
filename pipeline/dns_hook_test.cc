// --dns-hook: a real /bin/sh command, its environment, and how its result lands in the report.
#include "pipeline/dns_hook.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace mig {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A temporary file name, removed at the end of the test.
struct TempFile {
  std::string path;
  TempFile() {
    char tmpl[] = "/tmp/dns-hook-test.XXXXXX";
    int fd = ::mkstemp(tmpl);
    ::close(fd);
    path = tmpl;
  }
  ~TempFile() { std::remove(path.c_str()); }
};

}  // namespace

TEST_CASE("dns hook runs with DNS_NAME, NEW_IP and OLD_IP in its environment") {
  TempFile f;
  DnsHook h{"printf '%s %s %s' \"$DNS_NAME\" \"$NEW_IP\" \"$OLD_IP\" > " + f.path, "www.example.org", "192.0.2.20",
            "192.0.2.10"};
  DnsHookResult r = RunDnsHook(h);
  CHECK(r.ok);
  CHECK(r.exit_code == 0);
  CHECK(Slurp(f.path) == "www.example.org 192.0.2.20 192.0.2.10");
}

TEST_CASE("dns hook step records a success in the report") {
  Report rep;
  rep.result = "ok";
  CHECK(DnsHookStep(rep, {"echo pointed", "www.example.org", "192.0.2.20", "192.0.2.10"}, false));
  REQUIRE(rep.steps.size() == 1);
  CHECK(rep.steps[0].name == "dns hook");
  CHECK(rep.steps[0].status == "ok");
  CHECK(rep.dns_hook["ok"] == true);
  CHECK(rep.dns_hook["new_ip"] == "192.0.2.20");
  CHECK(rep.ToJson()["dns_hook"]["command"] == "echo pointed");
  CHECK_NOTHROW(FailIfDnsHookFailed(rep));
}

TEST_CASE("dns hook failure is recorded, shows its stderr, and fails the run saying the migration succeeded") {
  Report rep;
  rep.result = "ok";
  DnsHook h{"echo 'zone not found' >&2; exit 3", "www.example.org", "192.0.2.20", "192.0.2.10"};
  CHECK_FALSE(DnsHookStep(rep, h, false));
  REQUIRE(rep.steps.size() == 1);
  CHECK(rep.steps[0].status == "failed");
  CHECK(rep.steps[0].detail == "exit 3: zone not found");
  CHECK(rep.result == "ok");
  CHECK(rep.dns_hook["exit_code"] == 3);
  REQUIRE(rep.next_steps.size() == 1);
  CHECK(rep.next_steps[0].find("NEW_IP=192.0.2.20") != std::string::npos);
  CHECK(rep.Summary().find("dns hook: failed - exit 3: zone not found") != std::string::npos);
  try {
    FailIfDnsHookFailed(rep);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 1);
    CHECK(std::string(e.what()).find("the migration itself succeeded") != std::string::npos);
  }
}

TEST_CASE("dns hook that runs too long is stopped and counted as failed") {
  DnsHookResult r = RunDnsHook({"sleep 5", "", "192.0.2.20", "192.0.2.20"}, std::chrono::seconds(1));
  CHECK_FALSE(r.ok);
  CHECK(r.detail.find("did not finish within 1 s") != std::string::npos);
}

TEST_CASE("dns hook is only named in a dry run, and absent without --dns-hook") {
  Report rep;
  CHECK(DnsHookStep(rep, {"touch /nonexistent/never", "", "192.0.2.20", "192.0.2.20"}, true));
  REQUIRE(rep.steps.size() == 1);
  CHECK(rep.steps[0].status == "skipped");
  CHECK(rep.steps[0].detail.find("dry run: would run") != std::string::npos);
  Report none;
  CHECK(DnsHookStep(none, {}, false));
  CHECK(none.steps.empty());
  CHECK(none.dns_hook.is_null());
}

}  // namespace mig
