#include "core/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

namespace mig {

namespace {

void MeasureInto(int dir_fd, TreeUsage& u) {
  DIR* d = ::fdopendir(dir_fd);
  if (!d) {
    ::close(dir_fd);
    return;
  }
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    ++u.entries;
    if (S_ISREG(st.st_mode)) {
      u.bytes += std::min<uint64_t>(static_cast<uint64_t>(st.st_blocks) * 512, static_cast<uint64_t>(st.st_size));
    } else if (S_ISDIR(st.st_mode)) {
      int sub = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) MeasureInto(sub, u);
    }
  }
  ::closedir(d);
}

std::string ParentOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void WriteFileAtomic(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".migrate-tmp";
  auto fail = [&](const std::string& what) {
    int e = errno;
    ::unlink(tmp.c_str());
    Fail("cannot write " + path + ": " + what + ": " + ErrnoString(e) +
         (e == ENOSPC ? " (the disk is full: free some room there)"
          : e == EACCES || e == EPERM || e == EROFS ? " (its folder is not writable here)"
                                                   : " (is its folder writable, is the disk full?)"));
  };
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode & 07777));
    if (!fd.valid()) fail("cannot create " + tmp);
    const char* p = text.data();
    size_t left = text.size();
    while (left > 0) {
      ssize_t w = ::write(fd.get(), p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("cannot write " + tmp);
      p += w;
      left -= static_cast<size_t>(w);
    }
    if (::fchmod(fd.get(), mode & 07777) != 0) fail("cannot set the mode of " + tmp);
    if (::fsync(fd.get()) != 0) fail("cannot flush " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " over it");
  Fd dir(::open(ParentOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid() || ::fsync(dir.get()) != 0)
    Fail("cannot flush the folder of " + path + ": " + ErrnoString() + " (the file is written, its name may not survive a crash)");
}

std::optional<std::string> ReadSmallFile(const std::string& path, size_t limit) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::nullopt;
    Fail("cannot read " + path + ": " + ErrnoString());
  }
  std::string out;
  std::vector<char> buf(64 << 10);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Fail("cannot read " + path + ": " + ErrnoString());
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
    if (out.size() > limit)
      Fail(path + " is larger than " + std::to_string(limit) + " bytes: it is damaged (move it away and look at it)");
  }
  return out;
}

TempDir::TempDir(const std::string& prefix, const std::string& in) {
  const char* env = std::getenv("TMPDIR");
  std::string base = !in.empty() ? in : env && *env ? env : "/tmp";
  std::string tmpl = base + "/" + prefix + ".XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data()))
    Fail("cannot create a private folder in " + base + ": " + ErrnoString() + " (set TMPDIR to a writable folder)");
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

namespace {

uint64_t RemoveTreeAtDepth(int parent, const std::string& name, const std::string& display, int depth) {
  int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOTDIR || errno == ELOOP) {
      if (::unlinkat(parent, name.c_str(), 0) != 0) Fail("cannot remove " + display + ": " + ErrnoString());
      return 1;
    }
    if (errno == ENOENT) return 0;
    Fail("cannot remove the folder " + display + ": " + ErrnoString());
  }
  if (depth > 4096) {
    ::close(fd);
    Fail("cannot remove the folder " + display + ": folders more than 4096 deep");
  }
  ::fchmod(fd, 0700);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    Fail("cannot read the folder " + display + ": " + ErrnoString());
  }
  std::vector<std::string> names;
  while (struct dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  uint64_t count = 0;
  try {
    for (const auto& n : names) count += RemoveTreeAtDepth(::dirfd(d), n, display + "/" + n, depth + 1);
  } catch (...) {
    ::closedir(d);
    throw;
  }
  ::closedir(d);
  if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0) Fail("cannot remove the folder " + display + ": " + ErrnoString());
  return count + 1;
}

}  // namespace

uint64_t RemoveTreeAt(int parent, const std::string& name, const std::string& display) {
  return RemoveTreeAtDepth(parent, name, display, 0);
}

TreeUsage MeasureTree(const std::string& dir) {
  TreeUsage u;
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) MeasureInto(fd, u);
  return u;
}

}  // namespace mig
