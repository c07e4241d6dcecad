#include "compose/rewrite.h"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include "core/error.h"

using mig::compose::ApplyEdits;
using mig::compose::LineDiff;
using mig::compose::PlanVolumePrefix;

namespace {

// A compose file shaped like the ones operators keep: comments, anchors, a merge key, quoted
// and plain scalars, long and short volume syntax, every form of volume definition.
const char* kReal = R"(# Product release 2.10.5
version: "3.8"
x-common: &common        # shared settings
  restart: unless-stopped
  logging: {driver: json-file}

services:
  postgres:
    <<: *common
    image: "postgres:15"  # pinned
    volumes:
      - postgres_data:/var/lib/postgresql/data
      - type: volume
        source: backups
        target: /backups
  app:
    <<: *common
    image: app:${VERSION:-2.10.5}
    volumes: ["./data:/srv:ro", "cache:/cache"]

volumes:
  postgres_data:
  backups: {}
  cache: {driver: local}   # flow style
  quoted:
    name: "old_quoted"    # keep the quotes
  plain:
    driver: local
    name: old_plain
  block:
    driver: local
    labels:
      a: b
  shared:
    external: true
  tilde: ~
)";

std::string Rewrite(const std::string& text, const std::string& prefix) {
  return ApplyEdits(text, PlanVolumePrefix(text, "docker-compose.yml", prefix).edits);
}

}  // namespace

TEST_CASE("prefix names every volume and leaves external ones alone") {
  auto plan = PlanVolumePrefix(kReal, "docker-compose.yml", "v2_10_5_MY_COPY_2");
  YAML::Node y = YAML::Load(ApplyEdits(kReal, plan.edits));
  for (const char* v : {"postgres_data", "backups", "cache", "quoted", "plain", "block", "tilde"})
    CHECK(y["volumes"][v]["name"].Scalar() == std::string("v2_10_5_MY_COPY_2_") + v);
  CHECK_FALSE(y["volumes"]["shared"]["name"]);
  REQUIRE(plan.warnings.size() == 1);
  CHECK(plan.warnings[0].find("shared is external") != std::string::npos);
  CHECK(y["volumes"]["cache"]["driver"].Scalar() == "local");
  CHECK(y["volumes"]["block"]["labels"]["a"].Scalar() == "b");
}

TEST_CASE("prefix changes only the name lines: comments, anchors, quotes and order survive") {
  std::string after = Rewrite(kReal, "p");
  std::string diff = LineDiff(kReal, after);
  CHECK(diff ==
        "-23:   backups: {}\n"
        "-24:   cache: {driver: local}   # flow style\n"
        "+23:     name: p_postgres_data\n"
        "+24:   backups: {name: p_backups}\n"
        "+25:   cache: {name: p_cache, driver: local}   # flow style\n"
        "-26:     name: \"old_quoted\"    # keep the quotes\n"
        "+27:     name: \"p_quoted\"    # keep the quotes\n"
        "-29:     name: old_plain\n"
        "+30:     name: p_plain\n"
        "+32:     name: p_block\n"
        "-36:   tilde: ~\n"
        "+38:   tilde: {name: p_tilde}\n");
  CHECK(after.find("x-common: &common        # shared settings") != std::string::npos);
  CHECK(after.find("    <<: *common\n    image: \"postgres:15\"  # pinned") != std::string::npos);
}

TEST_CASE("prefix twice gives the same file as prefixing once with the second prefix") {
  CHECK(Rewrite(Rewrite(kReal, "one"), "two") == Rewrite(Rewrite(kReal, "zzz"), "two"));
}

TEST_CASE("prefix refuses a bad prefix, bad YAML and a volume defined by an alias") {
  CHECK_THROWS_AS(PlanVolumePrefix(kReal, "f", ""), mig::Error);
  CHECK_THROWS_AS(PlanVolumePrefix(kReal, "f", "has space"), mig::Error);
  CHECK_THROWS_AS(PlanVolumePrefix(kReal, "f", "-dash"), mig::Error);
  try {
    PlanVolumePrefix("volumes:\n  a: [unclosed\n", "dc.yml", "p");
    FAIL("no error");
  } catch (const mig::Error& e) {
    CHECK(std::string(e.what()).find("dc.yml:") == 0);
    CHECK(e.exit_code() == 2);
  }
  const char* aliased = "x-v: &v {driver: local}\nvolumes:\n  a: *v\n  b: *v\n";
  CHECK_THROWS_WITH(PlanVolumePrefix(aliased, "f", "p"), Catch::Contains("alias"));
}

TEST_CASE("prefix leaves the legacy external form alone") {
  auto plan = PlanVolumePrefix("volumes:\n  old:\n    external:\n      name: legacy\n  new: {}\n", "f", "p");
  REQUIRE(plan.names.size() == 1);
  CHECK(plan.names[0].first == "new");
  CHECK(plan.warnings.size() == 1);
}

TEST_CASE("prefix of a file without volumes changes nothing and says so") {
  auto plan = PlanVolumePrefix("services:\n  a:\n    image: x\n", "f", "p");
  CHECK(plan.edits.empty());
  REQUIRE(plan.warnings.size() == 1);
}

TEST_CASE("apply edits refuses overlapping edits") {
  CHECK(ApplyEdits("abcdef", {{1, 2, "X"}, {4, 0, "Y"}}) == "aXdYef");
  CHECK_THROWS_AS(ApplyEdits("abcdef", {{1, 3, "X"}, {2, 1, "Y"}}), mig::Error);
}

TEST_CASE("constraints: only the constraints named are rewritten, in flow and block sequences, quoted or not") {
  const std::string text = R"(version: "3.8"
services:
  db:
    image: postgres
    deploy:
      placement:
        constraints: [node.hostname == old1, node.role == manager]   # pinned
  app:
    image: busybox
    deploy:
      placement:
        constraints:
          - "node.hostname==old2"
          - 'node.labels.disk == ssd'
  plain: {image: busybox}
)";
  auto rewrite = [](const std::string&, const std::string& c) -> std::optional<std::string> {
    if (c == "node.hostname == old1") return "node.hostname == new1";
    if (c == "node.hostname==old2") return "node.hostname==new-second";
    return std::nullopt;
  };
  const std::string after = ApplyEdits(text, mig::compose::PlanConstraintEdits(text, "c.yml", rewrite));
  CHECK(LineDiff(text, after) ==
        "-7:         constraints: [node.hostname == old1, node.role == manager]   # pinned\n"
        "+7:         constraints: [node.hostname == new1, node.role == manager]   # pinned\n"
        "-13:           - \"node.hostname==old2\"\n"
        "+13:           - \"node.hostname==new-second\"\n");
  YAML::Node y = YAML::Load(after);
  CHECK(y["services"]["app"]["deploy"]["placement"]["constraints"][1].Scalar() == "node.labels.disk == ssd");
  // A placement shared through an anchor is edited once, at the anchor.
  const std::string shared = "x-pin: &pin\n  placement:\n    constraints: [node.hostname == old1]\nservices:\n"
                             "  a:\n    deploy: *pin\n  b:\n    deploy: *pin\n";
  const auto once = mig::compose::PlanConstraintEdits(shared, "s.yml", rewrite);
  CHECK(once.size() == 1);
  CHECK(YAML::Load(ApplyEdits(shared, once))["services"]["b"]["deploy"]["placement"]["constraints"][0].Scalar() ==
        "node.hostname == new1");
  // A constraint written with an escape cannot be edited in place: said, with its place.
  const std::string escaped = "services:\n  a:\n    deploy:\n      placement:\n        constraints: [\"node.hostname == \\x6fld1\"]\n";
  try {
    mig::compose::PlanConstraintEdits(escaped, "e.yml", [](const std::string&, const std::string&) {
      return std::string("x");
    });
    FAIL("no error");
  } catch (const mig::Error& e) {
    CHECK(std::string(e.what()).find("e.yml:5:") == 0);
  }
}

TEST_CASE("one service: the compose file with only that service, the other top-level keys kept") {
  const std::string text = "version: \"3.8\"\nservices:\n  db:\n    image: postgres\n    volumes: [pg:/data]\n"
                           "  app:\n    image: busybox\nvolumes:\n  pg: {}\nnetworks:\n  back: {}\n";
  YAML::Node y = YAML::Load(mig::compose::OneServiceText(text, "c.yml", "db"));
  CHECK(y["services"].size() == 1);
  CHECK(y["services"]["db"]["image"].Scalar() == "postgres");
  CHECK(y["volumes"]["pg"]);
  CHECK(y["networks"]["back"]);
  CHECK(y["version"].Scalar() == "3.8");
  CHECK_THROWS_AS(mig::compose::OneServiceText(text, "c.yml", "nosuch"), mig::Error);
  // Written as it was: quotes (docker wants version as a string), comments and anchors.
  const std::string real = "version: \"3.8\"\nx-env: &env\n  TZ: \"UTC\"\nservices:\n  app:\n    image: busybox\n"
                           "  db:   # the database\n    image: postgres\n    environment:\n      <<: *env\n"
                           "      POSTGRES_PASSWORD: \"0123\"\n  web:\n    image: nginx\nvolumes:\n  pg: {}\n";
  CHECK(mig::compose::OneServiceText(real, "c.yml", "db") ==
        "version: \"3.8\"\nx-env: &env\n  TZ: \"UTC\"\nservices:\n  db:   # the database\n    image: postgres\n"
        "    environment:\n      <<: *env\n      POSTGRES_PASSWORD: \"0123\"\nvolumes:\n  pg: {}\n");
  CHECK(mig::compose::OneServiceText(real, "c.yml", "web").find("services:\n  web:\n    image: nginx\nvolumes:") !=
        std::string::npos);
  // An anchor defined in a service cut out: said, not deployed broken.
  const std::string shared = "services:\n  app:\n    environment: &e {A: 1}\n  db:\n    environment: *e\n";
  CHECK_THROWS_AS(mig::compose::OneServiceText(shared, "c.yml", "db"), mig::Error);
  CHECK_THROWS_AS(mig::compose::OneServiceText("services: {app: {image: a}, db: {image: b}}\n", "c.yml", "db"),
                  mig::Error);
}
