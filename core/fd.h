// An owned file descriptor, closed on destruction.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "core/error.h"

namespace mig {

// Owns one file descriptor (or none, -1).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// Writes all of [p, p + n) at offset `off` of `fd`; throws mig::Error "cannot write WHAT: ...".
inline void WriteAllAt(int fd, const char* p, size_t n, off_t off, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) Fail("cannot write " + what + ": " + ErrnoString());
    p += w;
    n -= static_cast<size_t>(w);
    off += w;
  }
}

}  // namespace mig
