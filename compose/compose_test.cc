// Reading compose files and .env the way docker compose does.
#include "compose/compose.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace mig::compose {
namespace {

// A release folder under /tmp with the given name, removed at the end of the test.
struct Release {
  fs::path base, dir;
  explicit Release(const std::string& name = "release") {
    char tmpl[] = "/tmp/migrate-compose-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    base = tmpl;
    dir = base / name;
    fs::create_directories(dir);
  }
  ~Release() {
    std::error_code ec;
    fs::remove_all(base, ec);
  }
  std::string Put(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
  Project Load(const std::string& yaml, const Env& process_env = {}) const {
    return LoadProject(dir.string(), Put("docker-compose.yml", yaml), process_env);
  }
};

// The mig::Error a call throws (fails the test when it throws none).
template <typename F>
Error ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no mig::Error thrown");
  throw;
}

}  // namespace

TEST_CASE("dotenv skips comments and blank lines") {
  Env e = ParseDotEnv("# a comment\n\n  # indented comment\nA=1\n");
  CHECK(e == Env{{"A", "1"}});
}

TEST_CASE("dotenv strips matching quotes") {
  Env e = ParseDotEnv("A=\"double # not a comment\"\nB='single'\nC=\"unbalanced'\n");
  CHECK(e["A"] == "double # not a comment");
  CHECK(e["B"] == "single");
  CHECK(e["C"] == "\"unbalanced'");
}

TEST_CASE("dotenv accepts an export prefix and spaces around =") {
  Env e = ParseDotEnv("export A=1\nB = two \r\n");
  CHECK(e["A"] == "1");
  CHECK(e["B"] == "two");
}

TEST_CASE("dotenv drops an inline comment after a space") {
  Env e = ParseDotEnv("A=value # note\nB=val#ue\nC=\n");
  CHECK(e["A"] == "value");
  CHECK(e["B"] == "val#ue");
  CHECK(e["C"] == "");
}

TEST_CASE("dotenv drops an inline comment after a quoted value") {
  // compose reads A="quoted" # note as `quoted`; ParseDotEnv keeps the quotes.
  Env e = ParseDotEnv("A=\"quoted\" # note\n");
  CHECK(e["A"] == "quoted");
}

TEST_CASE("dotenv ignores lines without =") {
  CHECK(ParseDotEnv("JUSTAWORD\n").empty());
}

TEST_CASE("interpolate replaces braced and bare variables") {
  Env env{{"A", "1"}, {"B_2", "two"}};
  CHECK(Interpolate("${A}-$B_2-$A.x", env, {}, "w") == "1-two-1.x");
  CHECK(Interpolate("$UNSET|${UNSET}|", env, {}, "w") == "||");
}

TEST_CASE("interpolate turns $$ into $ and leaves a lone $") {
  CHECK(Interpolate("$$A cost $ 5$", {{"A", "x"}}, {}, "w") == "$A cost $ 5$");
}

TEST_CASE("interpolate default with colon covers unset and empty") {
  Env env{{"EMPTY", ""}, {"SET", "v"}};
  CHECK(Interpolate("${EMPTY:-d}", env, {}, "w") == "d");
  CHECK(Interpolate("${UNSET:-d}", env, {}, "w") == "d");
  CHECK(Interpolate("${SET:-d}", env, {}, "w") == "v");
}

TEST_CASE("interpolate default without colon covers only unset") {
  Env env{{"EMPTY", ""}};
  CHECK(Interpolate("${EMPTY-d}", env, {}, "w") == "");
  CHECK(Interpolate("${UNSET-d}", env, {}, "w") == "d");
}

TEST_CASE("interpolate interpolates the default") {
  CHECK(Interpolate("${UNSET:-$B/x}", {}, {{"B", "b"}}, "w") == "b/x");
}

TEST_CASE("interpolate accepts a nested braced default") {
  // compose supports ${A:-${B}}; the first '}' ends the expression here, so it throws
  // "unclosed ${".
  CHECK(Interpolate("${A:-${B}}", {}, {{"B", "x"}}, "w") == "x");
}

TEST_CASE("interpolate of a required variable that is missing throws an input error") {
  Error e = ErrorOf([] { Interpolate("${DB_PASS:?set DB_PASS}", {}, {}, "f.yml:3:5"); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK(e.exit_code() == 2);
  std::string m = e.what();
  CHECK(m.find("f.yml:3:5") != std::string::npos);
  CHECK(m.find("DB_PASS") != std::string::npos);
  CHECK(m.find("set DB_PASS") != std::string::npos);
  CHECK_THROWS_AS(Interpolate("${E:?msg}", {{"E", ""}}, {}, "w"), Error);
  CHECK_NOTHROW(Interpolate("${E?msg}", {{"E", ""}}, {}, "w"));
  CHECK(Interpolate("${E:?msg}", {{"E", "ok"}}, {}, "w") == "ok");
}

TEST_CASE("interpolate of an unclosed brace throws") {
  CHECK_THROWS_AS(Interpolate("${A", {}, {}, "w"), Error);
}

TEST_CASE("interpolate lets the process environment win over .env") {
  Env process{{"A", "shell"}}, dotenv{{"A", "dotenv"}, {"B", "dotenv"}};
  CHECK(Interpolate("$A ${B}", process, dotenv, "w") == "shell dotenv");
}

TEST_CASE("project names are normalised like compose v1") {
  CHECK(NormalizeProjectName("My_App-2.41.0") == "my_app-2410");
  CHECK(NormalizeProjectName("Release 1") == "release1");
}

TEST_CASE("find compose file tries the usual names") {
  Release r;
  CHECK(FindComposeFile(r.dir.string()).empty());
  r.Put("compose.yaml", "services: {}\n");
  CHECK(FindComposeFile(r.dir.string()) == (r.dir / "compose.yaml").string());
  r.Put("docker-compose.yml", "services: {}\n");
  CHECK(FindComposeFile(r.dir.string()) == (r.dir / "docker-compose.yml").string());
}

TEST_CASE("load project reads services, images and container names") {
  Release r;
  Project p = r.Load(R"(
services:
  web:
    image: nginx:${TAG:-1.25}
    container_name: site-web
  worker:
)");
  REQUIRE(p.services.size() == 2);
  const Service* web = p.service("web");
  REQUIRE(web);
  CHECK(web->image == "nginx:1.25");
  CHECK(web->container_name == "site-web");
  CHECK(p.service("worker"));
  CHECK(p.service("nope") == nullptr);
}

TEST_CASE("load project sees a service that may run more than one container (scale, deploy.replicas)") {
  Release r;
  Project p = r.Load(R"(
services:
  one:
    image: a
  scaled:
    image: a
    scale: 2
  replicated:
    image: a
    deploy:
      replicas: 3
  placed:
    image: a
    deploy:
      placement: {constraints: [node.role == manager]}
)");
  CHECK_FALSE(p.service("one")->scaled);
  CHECK(p.service("scaled")->scaled);
  CHECK(p.service("replicated")->scaled);
  CHECK_FALSE(p.service("placed")->scaled);
}

TEST_CASE("load project reads a stack's placement constraints: interpolated, through merge keys") {
  Release r;
  r.Put(".env", "DB_NODE=node1\n");
  Project p = r.Load(R"(
x-pinned: &pinned
  placement:
    constraints: [node.hostname == node2]
services:
  db:
    image: postgres
    deploy:
      placement:
        constraints: ["node.hostname == ${DB_NODE}", node.role == manager]
  app:
    image: app
    deploy:
      <<: *pinned
      replicas: 1
  web:
    image: web
)");
  CHECK(p.service("db")->constraints == std::vector<std::string>{"node.hostname == node1", "node.role == manager"});
  CHECK(p.service("app")->constraints == std::vector<std::string>{"node.hostname == node2"});
  CHECK(p.service("web")->constraints.empty());
}

TEST_CASE("load project reads environment as a map and as a list") {
  Release r;
  r.Put(".env", "PASS=from-dotenv\n");
  Project p = r.Load(R"(
services:
  db:
    image: postgres
    environment:
      POSTGRES_PASSWORD: ${PASS}
      PORT: 5432
      FROM_SHELL:
  app:
    image: app
    environment:
      - A=1
      - B=${PASS}
      - C=x=y
      - FROM_SHELL
      - NOT_IN_SHELL
)",
                     {{"FROM_SHELL", "shell"}});
  const Service* db = p.service("db");
  REQUIRE(db);
  CHECK(db->environment == Env{{"POSTGRES_PASSWORD", "from-dotenv"}, {"PORT", "5432"}, {"FROM_SHELL", "shell"}});
  const Service* app = p.service("app");
  REQUIRE(app);
  CHECK(app->environment ==
        Env{{"A", "1"}, {"B", "from-dotenv"}, {"C", "x=y"}, {"FROM_SHELL", "shell"}});
  CHECK(p.dotenv.at("PASS") == "from-dotenv");
}

TEST_CASE("load project reads env_file before environment") {
  Release r;
  r.Put("db.env", "POSTGRES_USER=alice\nPOSTGRES_DB=shop\n");
  r.Put("more.env", "EXTRA=1\n");
  Project p = r.Load(R"(
services:
  db:
    env_file: db.env
    environment:
      POSTGRES_DB: override
  other:
    env_file:
      - db.env
      - path: more.env
)");
  CHECK(p.service("db")->environment == Env{{"POSTGRES_USER", "alice"}, {"POSTGRES_DB", "override"}});
  CHECK(p.service("other")->environment.at("EXTRA") == "1");
}

TEST_CASE("load project refuses a missing env_file") {
  Release r;
  Error e = ErrorOf([&] { r.Load("services:\n  db:\n    env_file: nope.env\n"); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK(std::string(e.what()).find("nope.env") != std::string::npos);
}

TEST_CASE("load project reads ports in every syntax") {
  Release r;
  Project p = r.Load(R"(
services:
  web:
    ports:
      - "8080"
      - "18080:8080"
      - "127.0.0.1:18080:8080/udp"
      - "[::1]:80:80"
      - "127.0.0.1::9000"
      - "8000-8005:9000-9005"
      - 3000
      - target: 443
        published: "8443"
        host_ip: 0.0.0.0
        protocol: tcp
      - target: 53
        protocol: udp
)");
  const auto& ports = p.service("web")->ports;
  REQUIRE(ports.size() == 9);
  auto check = [&](size_t i, const std::string& ip, int host, int container, const std::string& proto) {
    INFO("port " << i);
    CHECK(ports[i].host_ip == ip);
    CHECK(ports[i].host_port == host);
    CHECK(ports[i].container_port == container);
    CHECK(ports[i].protocol == proto);
  };
  check(0, "", 0, 8080, "tcp");
  check(1, "", 18080, 8080, "tcp");
  check(2, "127.0.0.1", 18080, 8080, "udp");
  check(3, "::1", 80, 80, "tcp");
  check(4, "127.0.0.1", 0, 9000, "tcp");
  check(5, "", 8000, 9000, "tcp");  // a range: its first port
  check(6, "", 0, 3000, "tcp");
  check(7, "0.0.0.0", 8443, 443, "tcp");
  check(8, "", 0, 53, "udp");
}

TEST_CASE("load project refuses a port that is not a number") {
  Release r;
  Error e = ErrorOf([&] { r.Load("services:\n  web:\n    ports:\n      - \"http:80\"\n"); });
  CHECK(e.kind() == ErrorKind::kInput);
  std::string m = e.what();
  CHECK(m.find("docker-compose.yml:4:") != std::string::npos);
  CHECK(m.find("'http'") != std::string::npos);
}

TEST_CASE("load project lists top-level volumes") {
  Release r;
  Project p = r.Load("services:\n  db: {}\nvolumes:\n  pgdata:\n  uploads: {}\n");
  CHECK(p.volumes == std::vector<std::string>{"pgdata", "uploads"});
}

TEST_CASE("load project names the project after its folder") {
  Release r("My_App-2.41.0");
  CHECK(r.Load("services: {}\n").name == "my_app-2410");
}

TEST_CASE("load project takes the top-level name over the folder") {
  Release r;
  CHECK(r.Load("name: Shop${SUFFIX:-Prod}\nservices: {}\n").name == "shopprod");
}

TEST_CASE("load project takes COMPOSE_PROJECT_NAME from .env over the top-level name") {
  Release r;
  r.Put(".env", "COMPOSE_PROJECT_NAME=FromDotenv\n");
  CHECK(r.Load("name: fromfile\nservices: {}\n").name == "fromdotenv");
  CHECK(r.Load("name: fromfile\nservices: {}\n", {{"COMPOSE_PROJECT_NAME", "Shell"}}).name == "shell");
}

TEST_CASE("load project gives file, line and column of malformed YAML") {
  Release r;
  Error e = ErrorOf([&] { r.Load("services:\n  web:\n    image: [unclosed\n"); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK(e.exit_code() == 2);
  std::string m = e.what();
  INFO(m);
  CHECK(m.find((r.dir / "docker-compose.yml").string() + ":") == 0);
  CHECK(m.find("not valid YAML") != std::string::npos);
  // file:LINE:COLUMN: the line is a number >= 1
  std::string after = m.substr((r.dir / "docker-compose.yml").string().size() + 1);
  CHECK(std::isdigit(static_cast<unsigned char>(after[0])));
  CHECK(after.find(':') != std::string::npos);
}

TEST_CASE("load project without services says so") {
  Release r;
  Error e = ErrorOf([&] { r.Load("version: '3'\nvolumes: {}\n"); });
  CHECK(e.kind() == ErrorKind::kInput);
  CHECK(std::string(e.what()).find("no 'services:' section") != std::string::npos);
}

TEST_CASE("load project refuses a file that is not a mapping") {
  Release r;
  CHECK_THROWS_AS(r.Load("- just\n- a list\n"), Error);
}

TEST_CASE("load project points at a service that is not a mapping") {
  Release r;
  Error e = ErrorOf([&] { r.Load("services:\n  web: nginx\n"); });
  std::string m = e.what();
  CHECK(m.find("docker-compose.yml:2:") != std::string::npos);
  CHECK(m.find("'web'") != std::string::npos);
}

TEST_CASE("effective names follow compose: name:, project prefix, external, default network") {
  Release r("My.Release");
  r.Put(".env", "SUFFIX=x\n");
  Project p = r.Load(
      "services:\n  a:\n    image: i\n"
      "volumes:\n  plain:\n  named:\n    name: fixed_${SUFFIX}\n  ext:\n    external: true\n"
      "  legacy:\n    external:\n      name: old_one\n  trap:\n    name: ${COMPOSE_PROJECT_NAME:-prod}_pg\n"
      "networks:\n  back:\n");
  CHECK(p.name == "myrelease");
  CHECK(p.volume_names["plain"] == "myrelease_plain");
  CHECK(p.volume_names["named"] == "fixed_x");
  CHECK(p.volume_names["ext"] == "ext");
  CHECK(p.volume_names["legacy"] == "old_one");
  CHECK(p.volume_names["trap"] == "prod_pg");
  CHECK(p.names_from_project_var == std::vector<std::string>{"trap"});
  CHECK(p.network_names["back"] == "myrelease_back");
  CHECK(p.network_names["default"] == "myrelease_default");
  EffectiveNames(p, "other");
  CHECK(p.volume_names["plain"] == "other_plain");
  CHECK(p.volume_names["trap"] == "prod_pg");  // -p does not change an interpolated name
  CHECK(p.network_names["default"] == "other_default");
}

TEST_CASE("service mounts in short and long syntax, merged from an anchor") {
  Release r;
  Project p = r.Load(
      "x-base: &base\n  volumes:\n    - shared:/shared:ro\n"
      "services:\n  a:\n    <<: *base\n    image: i\n"
      "  b:\n    image: i\n    volumes:\n      - ./data:/srv:ro,z\n      - /abs:/abs\n      - /anon\n"
      "      - type: volume\n        source: cache\n        target: /cache\n        read_only: true\n"
      "volumes:\n  shared:\n  cache:\n");
  const Service* a = p.service("a");
  REQUIRE(a->mounts.size() == 1);
  CHECK(a->mounts[0].type == "volume");
  CHECK(a->mounts[0].source == "shared");
  CHECK(a->mounts[0].read_only);
  const Service* b = p.service("b");
  REQUIRE(b->mounts.size() == 4);
  CHECK(b->mounts[0].type == "bind");
  CHECK(b->mounts[0].source == (r.dir / "data").string());
  CHECK(b->mounts[0].read_only);
  CHECK(b->mounts[1].source == "/abs");
  CHECK_FALSE(b->mounts[1].read_only);
  CHECK(b->mounts[2].source.empty());
  CHECK(b->mounts[2].target == "/anon");
  CHECK(b->mounts[3].source == "cache");
  CHECK(b->mounts[3].read_only);
}

}  // namespace mig::compose
