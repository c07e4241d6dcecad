#include "core/error.h"

#include <cstring>

namespace mig {

std::string ErrnoString(int err) { return std::strerror(err); }

}  // namespace mig
