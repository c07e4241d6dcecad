// The order a stack's services stop in, as compose stop orders them.
#include "docker/docker.h"

#include <catch2/catch.hpp>

#include "core/error.h"

namespace mig::docker {

namespace {

compose::Service Svc(const std::string& name, std::vector<std::string> needs = {}) {
  compose::Service s;
  s.name = name;
  s.needs = std::move(needs);
  return s;
}

using Levels = std::vector<std::vector<std::string>>;

// A host whose docker ps lists `ps` and whose other programs succeed, each call kept.
class StubHost : public Host {
 public:
  explicit StubHost(std::string ps) : ps_(std::move(ps)) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string&, std::chrono::seconds) const override {
    calls.push_back(CommandLine(argv));
    ProcResult r;
    r.code = 0;
    if (argv.size() > 1 && argv[1] == "ps") r.out = ps_;
    return r;
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>&, int) const override { Fail("not here"); }
  std::string Describe() const override { return "a stub"; }
  mutable std::vector<std::string> calls;

 private:
  std::string ps_;
};

}  // namespace

TEST_CASE("services stop before what they need, each level at once") {
  // worker needs app and cache, app needs db and cache, sidecar shares app's network
  const std::vector<compose::Service> all = {Svc("db"), Svc("cache"), Svc("app", {"db", "cache"}),
                                             Svc("worker", {"app", "cache"}), Svc("sidecar", {"app"}),
                                             Svc("plain")};
  CHECK(StopOrder(all) == Levels{{"worker", "sidecar", "plain"}, {"app"}, {"db", "cache"}});
}

TEST_CASE("what a stopped service needs outside the list does not hold it back") {
  // the old release's services without its database: app's need of db is not in the list
  CHECK(StopOrder({Svc("app", {"db"}), Svc("worker", {"app"})}) == Levels{{"worker"}, {"app"}});
  CHECK(StopOrder({}).empty());
}

TEST_CASE("a cycle of needs stops its services at once, after those that need them") {
  CHECK(StopOrder({Svc("a", {"b"}), Svc("b", {"a"}), Svc("c", {"a"})}) == Levels{{"c"}, {"a", "b"}});
}

TEST_CASE("the old services stop through docker stop, dependents first, each with its grace period") {
  // docker ps: ID, name, service, state, status, one-off
  StubHost host(
      "c1\told_app_1\tapp\trunning\tUp 1 minute\tFalse\n"
      "c2\told_worker_1\tworker\trunning\tUp 1 minute\tFalse\n"
      "c3\told_worker_2\tworker\tpaused\tUp 1 minute (Paused)\tFalse\n"
      "c4\told_worker_run_1\tworker\trunning\tUp 5 seconds\tTrue\n"  // compose run: left alone
      "c5\told_cron_1\tcron\texited\tExited (0) 1 hour ago\tFalse\n"  // nothing to stop
      "c6\told_web_1\tweb\trestarting\tRestarting (1) 2 seconds ago\tFalse\n");
  Stack stack({{"docker-compose"}, "1.29.2"}, "/srv/old", "/srv/old/docker-compose.yml", "old", host);
  compose::Service app = Svc("app"), worker = Svc("worker", {"app"}), cron = Svc("cron", {"app"}), web = Svc("web");
  app.stop_grace_seconds = 30;
  web.stop_grace_seconds = 2;
  stack.StopServices({app, worker, cron, web});
  REQUIRE(host.calls.size() == 4);
  CHECK(host.calls[0].rfind("docker ps -a --filter label=com.docker.compose.project=old", 0) == 0);
  CHECK(host.calls[1] == "docker stop -t 2 c6");       // web: its own grace period
  CHECK(host.calls[2] == "docker stop -t 10 c2 c3");   // worker (cron has nothing running): docker's 10 s
  CHECK(host.calls[3] == "docker stop -t 30 c1");      // app last: the others need it
}

TEST_CASE("stopping services with nothing running asks docker ps only") {
  StubHost host("c5\told_cron_1\tcron\texited\tExited (0) 1 hour ago\tFalse\n");
  Stack stack({{"docker-compose"}, "1.29.2"}, "/srv/old", "/srv/old/docker-compose.yml", "old", host);
  stack.StopServices({Svc("cron")});
  CHECK(host.calls.size() == 1);
}

}  // namespace mig::docker

namespace mig::docker {

TEST_CASE("compose up would change nothing only when every service runs one container of its current hash and image") {
  const std::map<std::string, std::string> hashes = {{"app", "aaa"}, {"db", "ddd"}};
  const std::map<std::string, std::string> images = {{"app", "sha256:a1"}, {"db", "sha256:d1"}};
  const std::vector<compose::Service> services = {Svc("app", {"db"}), Svc("db")};
  auto c = [&](std::string service, std::string state, std::string hash, bool oneoff = false) {
    Container x;
    x.name = service + "_1";
    x.service = service;
    x.state = std::move(state);
    x.config_hash = std::move(hash);
    x.image_id = images.at(service);
    x.oneoff = oneoff;
    return x;
  };
  const std::vector<Container> up = {c("app", "running", "aaa"), c("db", "running", "ddd")};
  CHECK(UpToDate(hashes, services, images, up));
  // A one-off container (compose run) is not the service's.
  CHECK(UpToDate(hashes, services, images, {up[0], up[1], c("app", "exited", "old", true)}));
  CHECK_FALSE(UpToDate(hashes, services, images, {up[0]}));                                         // db has none
  CHECK_FALSE(UpToDate(hashes, services, images, {c("app", "exited", "aaa"), up[1]}));              // stopped
  CHECK_FALSE(UpToDate(hashes, services, images, {c("app", "restarting", "aaa"), up[1]}));
  CHECK_FALSE(UpToDate(hashes, services, images, {c("app", "running", "old"), up[1]}));             // changed
  CHECK_FALSE(UpToDate(hashes, services, images, {up[0], up[0], up[1]}));                           // two
  // The image its name gives was pulled or built again since; or it cannot be told.
  std::map<std::string, std::string> pulled = images;
  pulled["app"] = "sha256:a2";
  CHECK_FALSE(UpToDate(hashes, services, pulled, up));
  pulled["app"] = "";
  CHECK_FALSE(UpToDate(hashes, services, pulled, up));
  CHECK_FALSE(UpToDate(hashes, services, {{"db", "sha256:d1"}}, up));
  std::vector<compose::Service> scaled = services;
  scaled[0].scaled = true;  // compose may want more of it than run
  CHECK_FALSE(UpToDate(hashes, scaled, images, up));
}

}  // namespace mig::docker
