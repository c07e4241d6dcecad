// The daemon's schedule: 6-field cron expressions (seconds first), parsed and their next fire
// times computed as robfig/cron v3 computes them (the library Prophecy's backupFrequency
// names), in a time zone (docs/daemon.md "Schedule").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace date {
class time_zone;
}

namespace mig::daemon {

// Which values each field matches (bit i: value i).
struct CronSchedule {
  uint64_t second = 0, minute = 0, hour = 0, dom = 0, month = 0, dow = 0;
  // The day field was `*` or `?` (cron's day rule: when either day field is, a day must match
  // both; when both are restricted, either).
  bool dom_star = false, dow_star = false;
};

// Parses `second minute hour day-of-month month day-of-week`: each field `*`, `?`, a number, a
// name (jan-dec, sun-sat, any case), `a-b`, `*/n`, `a-b/n`, `a/n` (= a-max/n), or a list of
// them. Throws mig::Error (bad input) with the reason. Stricter than robfig/cron only where
// it would accept and never fire, or on a `+` before a number.
CronSchedule ParseCron(const std::string& text);

// A time zone by its IANA name ("UTC", "Europe/Berlin"), from the system's tz database.
class Zone {
 public:
  // Throws mig::Error (bad input) for a name the database does not know.
  static Zone Load(const std::string& name);
  const std::string& name() const { return name_; }
  const date::time_zone* tz() const { return tz_; }  // nullptr: UTC

 private:
  std::string name_ = "UTC";
  const date::time_zone* tz_ = nullptr;
};

using SysSeconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

// The first fire time after `after` (at least one second later), or nullopt when there is
// none within five years (robfig/cron's SpecSchedule.Next, DST edges included: a time a
// spring-forward skips does not fire that day, a time a fall-back repeats fires twice).
std::optional<SysSeconds> NextFire(const CronSchedule& s, const Zone& zone,
                                   std::chrono::system_clock::time_point after);

}  // namespace mig::daemon
