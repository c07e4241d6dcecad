// When the restart's expected configuration may be asked at the run's start.
#include "pipeline/restart.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/files.h"

using namespace mig;
namespace fs = std::filesystem;

TEST_CASE("compose's view of the new release is asked at the start only when nothing of the run changes what it reads") {
  TempDir d("settled");
  const std::string dir = d.path() + "/2.0.0";
  fs::create_directories(dir + "/data/conf");
  for (const char* f : {"/docker-compose.yml", "/.env", "/custom.env", "/data/conf/app.env"}) std::ofstream(dir + f) << "\n";
  Sides s;
  s.to.dir = dir;
  s.to.project.dir = dir;
  s.to.project.file = dir + "/docker-compose.yml";
  compose::Service app;
  app.name = "app";
  app.env_files = {dir + "/custom.env"};
  s.to.project.services = {app};
  CHECK(ConfigSettledAtStart(s));

  SECTION("an env_file in data/, which the merge writes") {
    s.to.project.services[0].env_files.push_back(dir + "/./data/conf/app.env");
    CHECK_FALSE(ConfigSettledAtStart(s));
  }
  SECTION("an env_file reached through a link into data/") {
    fs::create_symlink(dir + "/data/conf", dir + "/conf");
    s.to.project.services[0].env_files.push_back(dir + "/conf/app.env");
    CHECK_FALSE(ConfigSettledAtStart(s));
  }
  SECTION("a legacy source, whose step writes root files and custom.env") {
    s.legacy = "the install root holds .env and Caddyfile";
    CHECK_FALSE(ConfigSettledAtStart(s));
  }
}
