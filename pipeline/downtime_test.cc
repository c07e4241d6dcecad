#include "pipeline/downtime.h"

#include <catch2/catch.hpp>

namespace mig {

TEST_CASE("the downtime estimate adds the cutover's parts in their order") {
  DowntimeInputs in;
  in.docker_old = 0.5;
  in.compose_new = 0.8;
  in.delta = 0.4;
  const DowntimeEstimate e = EstimateDowntime(in);
  REQUIRE(e.parts.size() == 7);
  CHECK(e.parts[0].first == "stop old services");
  CHECK(e.parts[0].second == Approx(0.5 + kServiceStop));  // the containers asked, docker stop
  CHECK(e.parts[1].second == Approx(0.4 + kDeltaSync));
  CHECK(e.parts.back().second == Approx(0.8 + kUp));  // its services run already: one compose call
  CHECK(e.seconds == Approx(0.5 + kServiceStop + 0.4 + kDeltaSync + 0.5 + kPostgresStop + kLastWal + kPromote +
                            kCredentials + 0.8 + kUp));
}

TEST_CASE("the downtime estimate counts a start for each of the new release's services that is down") {
  DowntimeInputs in;
  in.new_services_down = 2;
  CHECK(EstimateDowntime(in).parts.back().second == Approx(kUp + 2 * kServiceStart));
}

TEST_CASE("without the database the estimate has no WAL, promotion or credentials") {
  DowntimeInputs in;
  in.database = false;
  in.delta = 0.3;
  const DowntimeEstimate e = EstimateDowntime(in);
  CHECK(e.parts.size() == 4);
  CHECK(e.seconds == Approx(kServiceStop + 0.3 + kDeltaSync + kPostgresStop + kUp));
}

TEST_CASE("the logical path's estimate replays the database inside the downtime, at its size's rate") {
  DowntimeInputs in;
  in.logical = true;
  in.db_bytes = 540e6;
  const DowntimeEstimate e = EstimateDowntime(in);
  REQUIRE(e.parts.size() == 5);
  CHECK(e.parts[2].first == "replay database");
  CHECK(e.parts[2].second == Approx(kReplayFixed + 10.0));  // 540 MB at 54 MB/s
  CHECK(e.parts[3].first == "stop old postgres");
  in.db_bytes *= 2;
  CHECK(EstimateDowntime(in).seconds == Approx(e.seconds + 10.0));  // not flat: it grows with the database
}

TEST_CASE("the modelled parts scale with the machine's pace; what is measured and a service's start do not") {
  DowntimeInputs in;
  in.docker_old = 0.1;
  in.compose_new = 0.5;
  in.delta = 0.2;
  in.new_services_down = 1;
  const DowntimeEstimate at_ref = [&] {
    DowntimeInputs r = in;
    r.pace = kPaceRef;
    return EstimateDowntime(r);
  }();
  CHECK(at_ref.seconds == Approx(EstimateDowntime(in).seconds));  // unmeasured: as at the reference
  in.pace = 4 * kPaceRef;  // the probe four times as slow now: the modelled parts twice
  const DowntimeEstimate slow = EstimateDowntime(in);
  const double modelled = kServiceStop + kDeltaSync + kPostgresStop + kLastWal + kPromote + kCredentials + kUp;
  CHECK(slow.seconds == Approx(at_ref.seconds + modelled));
  CHECK(slow.parts.back().second == Approx(0.5 + 2 * kUp + kServiceStart));
  in.logical = true;  // the replay's rate is the bench's, not scaled
  in.db_bytes = 54e6;
  CHECK(EstimateDowntime(in).parts[2].second == Approx(kReplayFixed + 1.0));
  CHECK(PaceFactor(1000 * kPaceRef) == Approx(3));  // a stalled probe does not run away
  CHECK(PaceFactor(kPaceRef / 1000) == Approx(0.5));
  CHECK(PaceFactor(0) == Approx(1));
}

}  // namespace mig
