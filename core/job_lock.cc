#include "core/job_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "core/timer.h"

namespace mig {

namespace {

std::string ReadAll(int fd) {
  std::string text;
  char buf[512];
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    at += n;
    if (text.size() > 4096) break;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// An open-file-description lock on the whole file: released when the descriptor closes or the
// process dies, and testable without taking it (F_OFD_GETLK), unlike flock(2).
struct flock WholeFile(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  return l;
}

}  // namespace

JobLock::JobLock(const std::string& path, const std::string& refusal) : path_(path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) Fail("cannot open the lock " + path + ": " + ErrnoString());
  fd_ = Fd(fd);
  struct flock l = WholeFile(F_WRLCK);
  if (::fcntl(fd, F_OFD_SETLK, &l) != 0) {
    if (errno != EAGAIN && errno != EACCES) Fail("cannot lock " + path + ": " + ErrnoString());
    std::string who = ReadAll(fd);
    Fail(refusal + " (" + (who.empty() ? "it holds " + path : who) + ")");
  }
  abandoned_ = ReadAll(fd);
  Describe("a job");
}

JobLock::~JobLock() {
  if (fd_.valid()) (void)::ftruncate(fd_.get(), 0);
}

void JobLock::Describe(const std::string& who) {
  std::string line = who + ", pid " + std::to_string(::getpid()) + ", since " + UtcNow() + "\n";
  if (::ftruncate(fd_.get(), 0) != 0 || ::pwrite(fd_.get(), line.data(), line.size(), 0) < 0)
    Fail("cannot write the lock " + path_ + ": " + ErrnoString());
}

std::optional<std::string> JobLock::Holder(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  Fd owned(fd);
  struct flock l = WholeFile(F_RDLCK);
  if (::fcntl(fd, F_OFD_GETLK, &l) != 0 || l.l_type == F_UNLCK) return std::nullopt;  // nobody holds it
  return ReadAll(fd);
}

}  // namespace mig
