// The one question a destructive command asks on a terminal before it changes anything.
#pragma once

#include <string>

namespace mig {

// Asks `question` [y/N] on stderr when stdin is a terminal and `yes` was not given; throws
// mig::Error (usage: "cancelled: nothing was changed") unless the answer is yes. Without a
// terminal (scripts, CI) it does not ask.
void ConfirmOrCancel(bool yes, const std::string& question);

}  // namespace mig
