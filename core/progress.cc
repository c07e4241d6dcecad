#include "core/progress.h"

#include <unistd.h>

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

Progress::Progress(std::string label, uint64_t total_items, uint64_t total_bytes, bool quiet)
    : label_(std::move(label)), total_items_(total_items), total_bytes_(total_bytes),
      tty_(::isatty(STDERR_FILENO)), quiet_(quiet) {}

void Progress::Update(uint64_t items, uint64_t bytes) {
  items_ = items;
  bytes_ = bytes;
  double now = sw_.seconds();
  double every = tty_ ? 0.2 : 5.0;
  if (now - last_print_ >= every && now > (tty_ ? 0.3 : 5.0)) {
    last_print_ = now;
    Print(false);
  }
}

void Progress::Done() {
  if (printed_) Print(true);
}

void Progress::Print(bool final) {
  if (quiet_) return;
  printed_ = true;
  double t = sw_.seconds();
  double rate = t > 0 ? static_cast<double>(bytes_) / t : 0;
  char line[256];
  int n = std::snprintf(line, sizeof line, "  %s: %llu", label_.c_str(), static_cast<unsigned long long>(items_));
  std::string s(line, static_cast<size_t>(n));
  if (total_items_) s += "/" + std::to_string(total_items_);
  s += " items, " + HumanBytes(bytes_);
  if (total_bytes_) s += "/" + HumanBytes(total_bytes_);
  s += ", " + HumanBytes(static_cast<uint64_t>(rate)) + "/s";
  if (!final && total_bytes_ > bytes_ && rate > 0) {
    std::snprintf(line, sizeof line, ", ETA %.0f s", static_cast<double>(total_bytes_ - bytes_) / rate);
    s += line;
  }
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", s.c_str(), final ? "\n" : "");
  else std::fprintf(stderr, "%s\n", s.c_str());
  std::fflush(stderr);
}

}  // namespace mig
