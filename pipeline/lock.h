// The per-target lock: one migration at a time on a target.
#pragma once

#include <string>

#include "core/fd.h"

namespace mig {

// Holds flock(2) on `dir`/.lock until destroyed (or the process dies). Throws mig::Error
// (failed) naming the lock when another process holds it.
class TargetLock {
 public:
  explicit TargetLock(const std::string& dir);

 private:
  Fd fd_;
};

}  // namespace mig
