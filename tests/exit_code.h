// Unit tests of refusals: the exit code a call's mig::Error carries.
#pragma once

#include <functional>

#include "core/error.h"

namespace mig {

// The exit code of the mig::Error `f` throws (2: bad usage or input, 1: failed); 0 when it
// throws none.
inline int ExitCodeOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.exit_code();
  }
  return 0;
}

}  // namespace mig
