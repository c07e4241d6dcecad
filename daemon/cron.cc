#include "daemon/cron.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/text.h"

namespace mig::daemon {

namespace {

struct Bounds {
  unsigned min, max;
  const char* what;
  std::vector<std::string> names;  // names[i] is value min + i
};

const Bounds kSeconds{0, 59, "seconds", {}};
const Bounds kMinutes{0, 59, "minutes", {}};
const Bounds kHours{0, 23, "hours", {}};
const Bounds kDom{1, 31, "day of month", {}};
const Bounds kMonths{1, 12, "month", {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}};
const Bounds kDow{0, 6, "day of week", {"sun", "mon", "tue", "wed", "thu", "fri", "sat"}};

unsigned Number(const std::string& s, const Bounds& b, const std::string& item) {
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (size_t i = 0; i < b.names.size(); ++i)
    if (lower == b.names[i]) return b.min + static_cast<unsigned>(i);
  if (s.empty() || s.size() > 4 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    BadInput("\"" + item + "\" is not a number" + (b.names.empty() ? "" : " or a name") + " in the " + b.what +
             " field");
  return static_cast<unsigned>(std::stoul(s));
}

// One item of a list: `*`, `?`, a value, `a-b`, with an optional `/step`. Sets `star` for a
// `*` or `?` without a step over 1 (robfig/cron's star bit).
uint64_t Item(const std::string& item, const Bounds& b, bool& star) {
  auto slash = Split(item, '/');
  if (slash.size() > 2) BadInput("\"" + item + "\" has more than one / in the " + std::string(b.what) + " field");
  auto dash = Split(slash[0], '-');
  if (dash.size() > 2) BadInput("\"" + item + "\" has more than one - in the " + std::string(b.what) + " field");
  unsigned start, end, step = 1;
  bool is_star = false;
  if (slash[0] == "*" || slash[0] == "?") {
    start = b.min, end = b.max, is_star = true;
  } else {
    start = Number(dash[0], b, item);
    end = dash.size() == 2 ? Number(dash[1], b, item) : start;
  }
  if (slash.size() == 2) {
    if (slash[1].empty() || slash[1].size() > 4 ||
        !std::all_of(slash[1].begin(), slash[1].end(), [](unsigned char c) { return std::isdigit(c); }))
      BadInput("the step of \"" + item + "\" is not a number");
    step = static_cast<unsigned>(std::stoul(slash[1]));
    if (step == 0) BadInput("the step of \"" + item + "\" is 0");
    if (dash.size() == 1) end = b.max;  // a/n: a to the end
  }
  const std::string range = " (" + std::to_string(b.min) + "-" + std::to_string(b.max) + ")";
  if (start < b.min) BadInput("\"" + item + "\" starts below the " + b.what + " field's range" + range);
  if (end > b.max) BadInput("\"" + item + "\" ends above the " + std::string(b.what) + " field's range" + range);
  if (start > end) BadInput("\"" + item + "\" is a range that ends before it starts");
  if (is_star && step <= 1) star = true;
  uint64_t bits = 0;
  for (unsigned v = start; v <= end; v += step) bits |= uint64_t{1} << v;
  return bits;
}

uint64_t Field(const std::string& field, const Bounds& b, bool* star_out = nullptr) {
  uint64_t bits = 0;
  bool star = false;
  for (const auto& item : Split(field, ','))
    if (!item.empty()) bits |= Item(item, b, star);  // an empty item is dropped, as robfig/cron does
  if (bits == 0) BadInput("the " + std::string(b.what) + " field \"" + field + "\" matches no value");
  if (star_out) *star_out = star;
  return bits;
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second, weekday;
};

// Go's time.Time in one location, on whole seconds: what robfig/cron's Next works with.
class GoClock {
 public:
  explicit GoClock(const date::time_zone* tz) : tz_(tz) {}

  // The offset in effect at `at`, and the period it holds for.
  int64_t Offset(int64_t at, int64_t* begin = nullptr, int64_t* end = nullptr) const {
    if (!tz_) {
      if (begin) *begin = INT64_MIN;
      if (end) *end = INT64_MAX;
      return 0;
    }
    auto info = tz_->get_info(date::sys_seconds{std::chrono::seconds{at}});
    if (begin) *begin = info.begin.time_since_epoch().count();
    if (end) *end = info.end.time_since_epoch().count();
    return info.offset.count();
  }
  Civil At(int64_t t) const {
    const int64_t local = t + Offset(t);
    const int64_t days = FloorDiv(local, 86400), secs = local - days * 86400;
    const date::sys_days sd{date::days{days}};
    const date::year_month_day ymd{sd};
    return {static_cast<int>(ymd.year()),
            static_cast<unsigned>(ymd.month()),
            static_cast<unsigned>(ymd.day()),
            static_cast<unsigned>(secs / 3600),
            static_cast<unsigned>(secs % 3600 / 60),
            static_cast<unsigned>(secs % 60),
            date::weekday{sd}.c_encoding()};
  }
  // time.Date(year, month, day, hour, min, sec, 0, loc): fields out of range carry over; a
  // local time that does not exist or exists twice resolved as Go resolves it.
  int64_t Date(int64_t year, int64_t month, int64_t day, int64_t hour, int64_t minute, int64_t second) const {
    int64_t m0 = month - 1;
    year += FloorDiv(m0, 12);
    m0 -= FloorDiv(m0, 12) * 12;
    const date::sys_days first{date::year{static_cast<int>(year)} / date::month{static_cast<unsigned>(m0 + 1)} /
                               date::day{1}};
    int64_t at = (first.time_since_epoch().count() + day - 1) * 86400 + hour * 3600 + minute * 60 + second;
    int64_t begin = 0, end = 0;
    int64_t offset = Offset(at, &begin, &end);
    if (offset != 0) {
      const int64_t utc = at - offset;
      if (utc < begin || utc >= end) offset = Offset(utc);
      at -= offset;
    }
    return at;
  }

 private:
  const date::time_zone* tz_;
};

bool DayMatches(const CronSchedule& s, const Civil& c) {
  const bool dom = (s.dom >> c.day) & 1, dow = (s.dow >> c.weekday) & 1;
  if (s.dom_star || s.dow_star) return dom && dow;
  return dom || dow;
}

}  // namespace

CronSchedule ParseCron(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  if (!text.empty() && text[0] == '@')
    BadInput("\"" + text + "\": descriptors such as @daily are not supported; write the 6 fields (0 0 0 * * *)");
  if (f.size() != 6)
    BadInput("\"" + text + "\" has " + std::to_string(f.size()) +
             " fields; a schedule has 6: second minute hour day-of-month month day-of-week (0 0 0 * * * is daily at "
             "midnight)");
  CronSchedule s;
  try {
    s.second = Field(f[0], kSeconds);
    s.minute = Field(f[1], kMinutes);
    s.hour = Field(f[2], kHours);
    s.dom = Field(f[3], kDom, &s.dom_star);
    s.month = Field(f[4], kMonths);
    s.dow = Field(f[5], kDow, &s.dow_star);
  } catch (const Error& e) {
    BadInput("\"" + text + "\": " + e.what());
  }
  return s;
}

Zone Zone::Load(const std::string& name) {
  Zone z;
  z.name_ = name;
  if (name == "UTC" || name == "Etc/UTC") return z;
  try {
    z.tz_ = date::locate_zone(name);
  } catch (const std::exception& e) {
    BadInput("unknown time zone \"" + name + "\" (an IANA name such as UTC or Europe/Berlin): " + e.what());
  }
  return z;
}

std::optional<SysSeconds> NextFire(const CronSchedule& s, const Zone& zone, std::chrono::system_clock::time_point after) {
  const GoClock go(zone.tz());
  // The upcoming whole second.
  int64_t t = std::chrono::floor<std::chrono::seconds>(after).time_since_epoch().count() + 1;
  bool added = false;
  const int64_t year_limit = go.At(t).year + 5;
  auto bit = [](uint64_t bits, unsigned v) { return (bits >> v) & 1; };
  for (;;) {  // each `continue` is robfig/cron's `goto WRAP`: a field wrapped, the earlier ones are checked again
    Civil c = go.At(t);
    if (c.year > year_limit) return std::nullopt;
    bool wrapped = false;
    while (!bit(s.month, c.month)) {
      if (!added) {
        added = true;
        t = go.Date(c.year, c.month, 1, 0, 0, 0);
        c = go.At(t);
      }
      t = go.Date(c.year, int64_t{c.month} + 1, c.day, c.hour, c.minute, c.second);
      c = go.At(t);
      if (c.month == 1) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!DayMatches(s, c)) {
      if (!added) {
        added = true;
        t = go.Date(c.year, c.month, c.day, 0, 0, 0);
        c = go.At(t);
      }
      t = go.Date(c.year, c.month, int64_t{c.day} + 1, c.hour, c.minute, c.second);
      c = go.At(t);
      if (c.hour != 0) {  // midnight moved by DST: back to it
        t += c.hour > 12 ? int64_t{24 - c.hour} * 3600 : -int64_t{c.hour} * 3600;
        c = go.At(t);
      }
      if (c.day == 1) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!bit(s.hour, c.hour)) {
      if (!added) {
        added = true;
        t = go.Date(c.year, c.month, c.day, c.hour, 0, 0);
      }
      t += 3600;
      c = go.At(t);
      if (c.hour == 0) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!bit(s.minute, c.minute)) {
      if (!added) {
        added = true;
        t -= t - FloorDiv(t, 60) * 60;  // Truncate(time.Minute): on the absolute time
      }
      t += 60;
      c = go.At(t);
      if (c.minute == 0) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    while (!bit(s.second, c.second)) {
      added = true;
      t += 1;
      c = go.At(t);
      if (c.second == 0) {
        wrapped = true;
        break;
      }
    }
    if (wrapped) continue;
    return SysSeconds{std::chrono::seconds{t}};
  }
}

}  // namespace mig::daemon
