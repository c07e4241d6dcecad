// migrate-agent: the program that runs on the OLD server during a remote migration. It is
// linked statically (no library needed on the old server) and speaks the agent protocol
// (docs/protocol.md) on its stdin/stdout, started by migrate over an SSH exec channel.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/serve.h"

namespace {

const char kHelp[] =
    "migrate-agent " MIGRATE_VERSION ": the far side of a remote migration (runs on the old server).\n"
    "\n"
    "Usage:\n"
    "  migrate-agent serve       speak the agent protocol on stdin/stdout (migrate starts this\n"
    "                            over SSH; it is not meant to be run by hand)\n"
    "  migrate-agent --version   print the version and the machine (e.g. 0.1.0 x86_64)\n"
    "  migrate-agent --help\n"
    "\n"
    "Exit codes: 0 ok, 1 failed, 2 bad usage.\n";

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "--help" || cmd == "-h") {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("%s %s\n", MIGRATE_VERSION, mig::agent::MachineName().c_str());
    return 0;
  }
  if (cmd == "serve" && argc == 2) {
    if (::isatty(0)) {
      std::fputs("migrate-agent: serve speaks a binary protocol on stdin/stdout; migrate starts it for you\n", stderr);
      return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);  // a receiver that went away is a write error, not a kill
    return mig::agent::Serve(0, 1, MIGRATE_VERSION);
  }
  std::fprintf(stderr, "migrate-agent: %s; see migrate-agent --help\n",
               cmd.empty() ? "a command is needed" : ("unknown command or extra arguments: " + cmd).c_str());
  return 2;
}
