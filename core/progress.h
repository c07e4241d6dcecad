// Progress of a long step on stderr: one rewritten line on a terminal, a plain line every few
// seconds otherwise (logs, CI).
#pragma once

#include <cstdint>
#include <string>

#include "core/timer.h"

namespace mig {

std::string HumanBytes(uint64_t b);

class Progress {
 public:
  // total_bytes / total_items of 0: unknown (no ETA).
  Progress(std::string label, uint64_t total_items, uint64_t total_bytes, bool quiet);
  void Update(uint64_t items, uint64_t bytes);
  void Done();

 private:
  void Print(bool final);
  std::string label_;
  uint64_t total_items_, total_bytes_, items_ = 0, bytes_ = 0;
  bool tty_, quiet_, printed_ = false;
  Stopwatch sw_;
  double last_print_ = -1;
};

}  // namespace mig
