#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace mig {

std::string HumanBytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

int ProgressSnapshot::percent() const {
  if (total == 0) return -1;
  if (done >= total) return 100;
  return static_cast<int>(done * 100 / total);
}

double ProgressSnapshot::eta_seconds() const {
  if (total == 0) return -1;
  if (done >= total) return 0;
  double r = rate();
  if (r <= 0) return -1;
  return static_cast<double>(total - done) / r;
}

namespace {

std::string Clock(double secs) {
  long s = std::lround(secs);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

}  // namespace

std::string ProgressLine(const ProgressSnapshot& s) {
  std::string line = "  " + s.label + ": " + HumanBytes(s.done);
  if (s.total) line += "/" + HumanBytes(s.total);
  if (int p = s.percent(); p >= 0) line += "  " + std::to_string(p) + "%";
  line += "  " + HumanBytes(static_cast<uint64_t>(s.rate())) + "/s";
  if (s.final) {
    line += "  in " + Clock(s.seconds);
  } else if (double eta = s.eta_seconds(); eta >= 0) {
    line += "  ETA " + Clock(eta);
  }
  line += "  (" + std::to_string(s.items) + " items";
  if (s.written != s.done) line += ", " + HumanBytes(s.written) + " written";
  return line + ")";
}

nlohmann::json ProgressJson(const ProgressSnapshot& s) {
  nlohmann::json j = {{"event", "progress"}, {"step", s.label}, {"items", s.items}, {"done_bytes", s.done},
                      {"total_bytes", s.total}, {"written_bytes", s.written},
                      {"bytes_per_second", std::round(s.rate())}, {"seconds", std::round(s.seconds * 10) / 10},
                      {"final", s.final}};
  j["percent"] = s.percent() >= 0 ? nlohmann::json(s.percent()) : nlohmann::json(nullptr);
  double eta = s.final ? 0 : s.eta_seconds();
  j["eta_seconds"] = eta >= 0 ? nlohmann::json(std::round(eta)) : nlohmann::json(nullptr);
  return j;
}

Progress::Progress(std::string label, uint64_t total_bytes, ProgressMode mode)
    : mode_(mode), tty_(::isatty(STDERR_FILENO)) {
  s_.label = std::move(label);
  s_.total = total_bytes;
}

void Progress::Update(uint64_t items, uint64_t done, uint64_t written) {
  s_.items = items;
  s_.done = done;
  s_.written = written;
  if (mode_ == ProgressMode::kQuiet) return;
  double now = sw_.seconds();
  const bool live = tty_ && mode_ == ProgressMode::kHuman;
  double every = live ? 0.2 : mode_ == ProgressMode::kJson ? 1.0 : 5.0;
  double first = live ? 0.3 : mode_ == ProgressMode::kJson ? 1.0 : 5.0;
  if (now - last_print_ >= every && now > first) {
    last_print_ = now;
    Print(false);
  }
}

void Progress::Done() {
  if (printed_ || mode_ == ProgressMode::kJson) Print(true);
}

void Progress::Print(bool final) {
  if (mode_ == ProgressMode::kQuiet) return;
  printed_ = true;
  s_.seconds = sw_.seconds();
  s_.final = final;
  if (mode_ == ProgressMode::kJson) {
    std::fprintf(stderr, "%s\n", ProgressJson(s_).dump().c_str());
  } else {
    std::string line = ProgressLine(s_);
    if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
    else std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace mig
