#include "daemon/cron.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "core/error.h"
#include "tests/test_data.h"

using namespace mig;
using namespace mig::daemon;

namespace {

std::chrono::system_clock::time_point At(int64_t sec, int64_t nsec = 0) {
  return std::chrono::system_clock::time_point{std::chrono::seconds{sec}} +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds{nsec});
}

int64_t Next(const std::string& expr, const std::string& zone, int64_t sec) {
  auto t = NextFire(ParseCron(expr), Zone::Load(zone), At(sec));
  return t ? t->time_since_epoch().count() : 0;
}

std::string CronRefusal(const std::string& expr) {
  try {
    ParseCron(expr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cron: next fire times agree with robfig/cron v3 on its own generated table") {
  // tests/data/cron/robfig_table.tsv, made by tests/tools/cron_table.go with the library.
  std::istringstream table(TestData("cron/robfig_table.tsv"));
  int compared = 0, refused = 0;
  for (std::string line; std::getline(table, line);) {
    std::vector<std::string> col;
    std::string cell;
    std::istringstream ls(line);
    while (std::getline(ls, cell, '\t')) col.push_back(cell);
    const std::string& expr = col.at(0);
    INFO(line);
    if (col.size() == 2) {  // the library refuses it: so do we
      CHECK_FALSE(CronRefusal(expr).empty());
      ++refused;
      continue;
    }
    REQUIRE(col.size() == 4);
    const auto dot = col[2].find('.');
    auto t = At(std::stoll(col[2].substr(0, dot)), std::stoll(col[2].substr(dot + 1)));
    std::vector<int64_t> want;
    std::istringstream ws(col[3]);
    for (std::string n; std::getline(ws, n, ',');) want.push_back(std::stoll(n));
    if (!CronRefusal(expr).empty()) {  // stricter only where the library would never fire
      CHECK(want.at(0) == 0);
      continue;
    }
    const CronSchedule s = ParseCron(expr);
    const Zone zone = Zone::Load(col[1]);
    for (int64_t w : want) {
      auto got = NextFire(s, zone, t);
      CHECK((got ? got->time_since_epoch().count() : 0) == w);
      if (!got) break;
      t = *got;
    }
    ++compared;
  }
  CHECK(compared > 8000);
  CHECK(refused > 15);
}

TEST_CASE("cron: daily at midnight UTC is the default schedule") {
  // 2026-12-01 09:30:15 UTC -> 2026-12-02 00:00:00 UTC
  CHECK(Next("0 0 0 * * *", "UTC", 1796117415) == 1796169600);
  // exactly at a fire time: the next one, a day later
  CHECK(Next("0 0 0 * * *", "UTC", 1796169600) == 1796256000);
}

TEST_CASE("cron: DST edges in Europe/Berlin, as robfig/cron has them") {
  // Spring forward, 2027-03-28 02:00 CET -> 03:00 CEST: 02:30 does not exist that day and
  // the schedule fires next on the 29th at 02:30 CEST (00:30 UTC).
  CHECK(Next("0 30 2 * * *", "Europe/Berlin", 1806191999) == 1806280200);
  // Fall back, 2027-10-31 03:00 CEST -> 02:00 CET: 02:30 happens twice and fires twice.
  CHECK(Next("0 30 2 * * *", "Europe/Berlin", 1824937200) == 1824942600);  // 00:30 UTC, CEST
  CHECK(Next("0 30 2 * * *", "Europe/Berlin", 1824942600) == 1824946200);  // 01:30 UTC, CET
}

TEST_CASE("cron: bad expressions are refused with the reason") {
  CHECK(CronRefusal("0 0 0 * *").find("has 5 fields; a schedule has 6") != std::string::npos);
  CHECK(CronRefusal("@daily").find("descriptors such as @daily are not supported") != std::string::npos);
  CHECK(CronRefusal("0 0 24 * * *").find("ends above the hours field's range (0-23)") != std::string::npos);
  CHECK(CronRefusal("0 0 0 * * 7").find("day of week") != std::string::npos);
  CHECK(CronRefusal("*/0 * * * * *").find("the step of \"*/0\" is 0") != std::string::npos);
  CHECK(CronRefusal("0 0 0 * foo *").find("\"foo\" is not a number or a name in the month field") != std::string::npos);
  CHECK(CronRefusal("0 0 0 * * ,").find("matches no value") != std::string::npos);
  CHECK(CronRefusal("5-1 * * * * *").find("ends before it starts") != std::string::npos);
  CHECK(CronRefusal("0 0 12 * * MON-fri").empty());  // names in any case
  CHECK_THROWS_AS(Zone::Load("Mars/Olympus_Mons"), Error);
}
