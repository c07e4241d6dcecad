#include "core/io.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"

namespace mig {

size_t ReadFd(int fd, char* buf, size_t len, const char* what) {
  while (true) {
    ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) Fail(std::string("cannot read ") + what + ": " + ErrnoString());
  }
}

void WriteFd(int fd, const char* buf, size_t len, const char* what) {
  while (len > 0) {
    ssize_t n = ::write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail(std::string("cannot write ") + what + ": " + ErrnoString());
    }
    buf += n;
    len -= static_cast<size_t>(n);
  }
}

int OpenBeneath(int root_fd, const std::string& rel, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd;
  do fd = ::syscall(SYS_openat2, root_fd, rel.empty() ? "." : rel.c_str(), &how, sizeof how);
  while (fd < 0 && errno == EINTR);
  if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
  // A kernel before 5.6 (an old server): walk the components, none of them a symlink.
  if (rel.empty() || rel.front() == '/') return errno = EINVAL, -1;
  int dir = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
  size_t start = 0;
  while (dir >= 0) {
    size_t slash = rel.find('/', start);
    std::string part = rel.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") {
      ::close(dir);
      return errno = EINVAL, -1;
    }
    bool last = slash == std::string::npos;
    int next = ::openat(dir, part.c_str(), last ? (flags | O_NOFOLLOW | O_CLOEXEC)
                                                : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    int err = errno;
    ::close(dir);
    errno = err;
    if (last) return next;
    dir = next;
    start = slash + 1;
  }
  return -1;
}

}  // namespace mig
