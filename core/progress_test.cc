#include "core/progress.h"

#include <catch2/catch.hpp>

using namespace mig;

TEST_CASE("progress shows done/total, percent, rate and time left, as rsync --info=progress2") {
  ProgressSnapshot s;
  s.label = "data/";
  s.items = 1234;
  s.done = 512ull << 20;
  s.total = 2048ull << 20;
  s.written = 100ull << 20;
  s.seconds = 4;
  CHECK(s.percent() == 25);
  CHECK(s.eta_seconds() == Approx(12));
  CHECK(ProgressLine(s) == "  data/: 512.0 MiB/2.0 GiB  25%  128.0 MiB/s  ETA 0:00:12  (1234 items, 100.0 MiB written)");
  s.final = true;
  s.done = s.total;
  s.written = s.total;
  s.seconds = 16;
  CHECK(ProgressLine(s) == "  data/: 2.0 GiB/2.0 GiB  100%  128.0 MiB/s  in 0:00:16  (1234 items)");
}

TEST_CASE("progress without a known total has no percent and no ETA") {
  ProgressSnapshot s;
  s.label = "database";
  s.done = s.written = 3 << 20;
  s.seconds = 1;
  CHECK(s.percent() == -1);
  CHECK(s.eta_seconds() == -1);
  CHECK(ProgressLine(s) == "  database: 3.0 MiB  3.0 MiB/s  (0 items)");
  nlohmann::json j = ProgressJson(s);
  CHECK(j["percent"].is_null());
  CHECK(j["eta_seconds"].is_null());
  CHECK(j["total_bytes"] == 0);
}

TEST_CASE("progress JSON events carry the same fields as the line") {
  ProgressSnapshot s;
  s.label = "data/";
  s.items = 10;
  s.done = 300;
  s.total = 1000;
  s.written = 200;
  s.seconds = 3;
  nlohmann::json j = ProgressJson(s);
  CHECK(j["event"] == "progress");
  CHECK(j["step"] == "data/");
  CHECK(j["items"] == 10);
  CHECK(j["done_bytes"] == 300);
  CHECK(j["total_bytes"] == 1000);
  CHECK(j["written_bytes"] == 200);
  CHECK(j["percent"] == 30);
  CHECK(j["bytes_per_second"] == 100);
  CHECK(j["eta_seconds"] == 7);
  CHECK(j["final"] == false);
}

TEST_CASE("progress past its total (files grew since the preflight) says 100% and no time left") {
  ProgressSnapshot s;
  s.done = 1200;
  s.total = 1000;
  s.seconds = 1;
  CHECK(s.percent() == 100);
  CHECK(s.eta_seconds() == 0);
}
