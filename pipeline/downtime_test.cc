#include "pipeline/downtime.h"

#include <catch2/catch.hpp>

namespace mig {

TEST_CASE("the downtime estimate adds the cutover's parts, the final delta and the count side by side") {
  DowntimeInputs in;
  in.compose_old = 1.0;
  in.compose_new = 0.8;
  in.delta = 0.4;
  in.count = 2.5;  // longer than the delta: the two run at once, the longer one counts
  const DowntimeEstimate e = EstimateDowntime(in);
  REQUIRE(e.parts.size() == 5);
  CHECK(e.parts[0].first == "stop old services");
  CHECK(e.parts[1].second == Approx(2.5));
  CHECK(e.parts.back().second == Approx(0.8));  // the new release runs already: one compose call
  CHECK(e.seconds == Approx(1.0 + kServiceStop + 2.5 + 1.0 + kPostgresStop + kLastWal + kPromote + kCredentials + 0.8));
}

TEST_CASE("the downtime estimate counts a start for each of the new release's services that is down") {
  DowntimeInputs in;
  in.new_services_down = 2;
  CHECK(EstimateDowntime(in).parts.back().second == Approx(2 * kServiceStart));
}

TEST_CASE("without the database the estimate has no count, WAL or promotion") {
  DowntimeInputs in;
  in.database = false;
  in.delta = 0.3;
  in.count = 9;  // not taken with --skip-db
  const DowntimeEstimate e = EstimateDowntime(in);
  CHECK(e.parts.size() == 4);
  CHECK(e.parts[1].second == Approx(0.3));
}

}  // namespace mig
