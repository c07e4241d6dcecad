// The agent's side of the protocol (docs/protocol.md): answers LIST and GET on a byte stream.
#pragma once

#include <string>

namespace mig::agent {

// Serves one session on `in_fd`/`out_fd` (blocking I/O) until BYE or the end of input.
// Returns the exit code: 0 after BYE, 1 after a failure (sent to the peer as ERROR first).
int Serve(int in_fd, int out_fd, const std::string& program_version);

// The machine name as `uname -m` prints it.
std::string MachineName();

}  // namespace mig::agent
