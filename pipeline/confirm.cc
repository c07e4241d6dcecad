#include "pipeline/confirm.h"

#include <unistd.h>

#include <iostream>

#include "core/error.h"

namespace mig {

void ConfirmOrCancel(bool yes, const std::string& question) {
  if (yes || !::isatty(STDIN_FILENO)) return;
  std::cerr << question << "? [y/N] ";
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y" && answer != "yes") BadUsage("cancelled: nothing was changed");
}

}  // namespace mig
