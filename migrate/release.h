// `migrate release ...`: side-by-side release folders (issue 5).
#pragma once

#include <string>

namespace mig {

struct PrefixOptions {
  std::string file;    // the compose file (default: the current folder's)
  std::string prefix;  // e.g. v2_10_5_MY_COPY_2
  bool dry_run = false;
};

// Gives every top-level volume of the compose file the name "<prefix>_<key>". Prints the
// changed lines and warnings; unless dry_run, keeps the original beside the file as
// "<file>.orig-<timestamp>" and replaces the file atomically. Returns the exit code.
int ReleasePrefix(const PrefixOptions& o);

}  // namespace mig
