#include "install/legacy.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig;

TEST_CASE("legacy: recognised by its root paths, never by its version alone") {
  CHECK(LegacyReason({"Caddyfile", ".caddy"}) == "Caddyfile, .caddy at its root");
  CHECK(LegacyReason({}) == "");
}

TEST_CASE("legacy: the database volume chosen from the engine's volumes") {
  const std::vector<std::string> vols = {"v2_24_1_postgres_data", "v2_24_1_postgres_backups", "other_postgres_data",
                                         "demo_app_data"};
  // the project the install runs or would run under, when its volume exists
  auto c = ChooseLegacyDbVolume("postgres_data", "other", "v2.24.1", vols, "");
  CHECK(c.volume == "other_postgres_data");
  CHECK(c.project == "other");
  // else VERSION as compose wrote it
  c = ChooseLegacyDbVolume("postgres_data", "releases", "v2.24.1", vols, "");
  CHECK(c.volume == "v2_24_1_postgres_data");
  CHECK(c.project == "v2_24_1");
  c = ChooseLegacyDbVolume("postgres_data", "releases", "2.24.1", {"2241_postgres_data"}, "");
  CHECK(c.project == "2241");
  // --from-project decides
  c = ChooseLegacyDbVolume("postgres_data", "releases", "v2.24.1", vols, "mine");
  CHECK(c.volume == "mine_postgres_data");
  // none, or several: a sentence naming the candidates and --from-project
  try {
    ChooseLegacyDbVolume("postgres_data", "releases", "v2.20.0", vols, "");
    FAIL("accepted");
  } catch (const Error& e) {
    CHECK(e.exit_code() == 2);
    CHECK_THAT(std::string(e.what()), Catch::Contains("v2_24_1_postgres_data, other_postgres_data") &&
                                          Catch::Contains("--from-project"));
  }
  CHECK_THROWS_WITH(ChooseLegacyDbVolume("postgres_data", "x", "v2.24.1", {"v2241_postgres_data", "v2_24_1_postgres_data"}, ""),
                    Catch::Contains("several volumes"));
}

TEST_CASE("legacy: the operator's .env edits move into custom.env, the release's keys stay") {
  const std::string old_env =
      "# the release's settings\n"
      "COMPOSE_PROJECT_NAME=v2_24_1\n"
      "GRAPHISTRY_HOME=/srv\n"
      "SMTP_HOST=mail.example.org   # ours\n"
      "export API_KEY='s3cr=t x'\n"
      "APP_TAG=v2.24.1\n"
      "POSTGRES_PASSWORD=old-secret\n"
      "EXTRA=only-old\n";
  const std::string new_env =
      "COMPOSE_PROJECT_NAME=v2_25_0\n"
      "GRAPHISTRY_HOME=/srv\n"
      "SMTP_HOST=localhost\n"
      "API_KEY=\n"
      "APP_TAG=v2.25.0\n"
      "POSTGRES_PASSWORD=new-secret\n";
  const std::string old_custom = "SMTP_HOST=smtp.example.org\n";
  const std::string new_custom = "# site settings\nAPI_KEY=\n";
  const EnvMove m = MoveEnvEdits(old_env, old_custom, new_env, new_custom);
  CHECK(m.custom_env ==
        "# site settings\n"
        "export API_KEY='s3cr=t x'\n"
        "# moved from the previous release's .env and custom.env by migrate (a legacy install)\n"
        "SMTP_HOST=smtp.example.org\n"
        "EXTRA=only-old\n");
  CHECK(m.moved == std::vector<std::string>{"SMTP_HOST", "API_KEY", "EXTRA"});
  CHECK(m.owned == std::vector<std::string>{"COMPOSE_PROJECT_NAME", "APP_TAG", "POSTGRES_PASSWORD"});
  // nothing edited: custom.env as it was, nothing moved
  const EnvMove none = MoveEnvEdits(new_env, "", new_env, new_custom);
  CHECK(none.custom_env == new_custom);
  CHECK(none.moved.empty());
  // run again on its own result: nothing more moves
  const EnvMove again = MoveEnvEdits(old_env, old_custom, new_env, m.custom_env);
  CHECK(again.custom_env == m.custom_env);
  CHECK(again.moved.empty());
}
