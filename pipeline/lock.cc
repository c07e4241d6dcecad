#include "pipeline/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include "core/error.h"

namespace mig {

TargetLock::TargetLock(const std::string& dir) {
  std::string path = dir + "/.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) Fail("cannot open the lock " + path + ": " + ErrnoString());
  fd_ = Fd(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      Fail("another migration is running on this target (it holds " + path + "); wait for it to finish");
    Fail("cannot lock " + path + ": " + ErrnoString());
  }
}

}  // namespace mig
