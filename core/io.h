// Plain blocking I/O and safe opens, shared by the agent and the receiver.
#pragma once

#include <cstddef>
#include <string>

namespace mig {

// read(2) retried on EINTR; 0 at end of input; throws mig::Error naming `what` on failure.
size_t ReadFd(int fd, char* buf, size_t len, const char* what);
// Writes all of it, retrying on EINTR and short writes; throws mig::Error naming `what`.
void WriteFd(int fd, const char* buf, size_t len, const char* what);
// Opens `rel` beneath the folder `root_fd`, never following a symlink on the way or at the
// end (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). Returns -1 with errno set on failure.
int OpenBeneath(int root_fd, const std::string& rel, int flags);

}  // namespace mig
