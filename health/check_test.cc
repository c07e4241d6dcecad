// The table and the JSON of `migrate check`.
#include "health/check.h"

#include <catch2/catch.hpp>
#include <sstream>

namespace mig::health {
namespace {

std::vector<Check> Rows() {
  return {Ok("docker engine", "server 20.10.24"),
          Failed("postgres", "service postgres of project demo is not running", "start it: docker-compose up -d postgres"),
          Warn("gpu 0", "Tesla P100-PCIE-16GB; 3 corrected ECC errors", "watch the count"),
          Skip("gpu in containers", "give --gpu-image IMAGE")};
}

}  // namespace

TEST_CASE("check table aligns the columns and prints each fix under its row") {
  std::ostringstream out;
  PrintTable(out, Rows());
  const std::string t = out.str();
  CHECK(t.find("CHECK              STATUS  DETAIL\n") == 0);
  CHECK(t.find("docker engine      ok      server 20.10.24\n") != std::string::npos);
  CHECK(t.find("postgres           fail    service postgres") != std::string::npos);
  CHECK(t.find("\n                           fix: start it: docker-compose up -d postgres\n") != std::string::npos);
  CHECK(t.find("fix: watch the count") != std::string::npos);
  CHECK(t.find("1 check failed, 1 warning, 1 ok, 1 skipped\n") != std::string::npos);
}

TEST_CASE("check table says all passed when nothing failed or warned") {
  std::ostringstream out;
  PrintTable(out, {Ok("docker engine", "x"), Ok("compose", "y"), Skip("gpu", "no GPU")});
  CHECK(out.str().find("all 2 checks passed, 1 skipped\n") != std::string::npos);
}

TEST_CASE("check json carries every row, the summary and the result") {
  auto j = ToJson(Rows());
  CHECK(j["version"] == 1);
  CHECK(j["result"] == "fail");
  CHECK(j["summary"]["ok"] == 1);
  CHECK(j["summary"]["warn"] == 1);
  CHECK(j["summary"]["fail"] == 1);
  CHECK(j["summary"]["skip"] == 1);
  REQUIRE(j["checks"].size() == 4);
  CHECK(j["checks"][1]["name"] == "postgres");
  CHECK(j["checks"][1]["status"] == "fail");
  CHECK(j["checks"][1]["fix"] == "start it: docker-compose up -d postgres");
  CHECK(j["checks"][0]["fix"].is_null());
}

TEST_CASE("check exit code is 1 only when a check failed") {
  CHECK(ExitCode(Rows()) == 1);
  CHECK(ExitCode({Ok("a", ""), Warn("b", "", "f"), Skip("c", "")}) == 0);
  CHECK(Result({Ok("a", ""), Warn("b", "", "f")}) == "warn");
  CHECK(Result({}) == "ok");
}

}  // namespace mig::health
