#include "sync/entry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/error.h"
#include "core/fd.h"

namespace mig::sync {

const char* TypeName(FileType t) {
  switch (t) {
    case FileType::kRegular: return "file";
    case FileType::kDirectory: return "folder";
    case FileType::kSymlink: return "symlink";
    case FileType::kCharDevice: return "character device";
    case FileType::kBlockDevice: return "block device";
    case FileType::kFifo: return "fifo";
    case FileType::kSocket: return "socket";
  }
  return "?";
}

unsigned SpecialModeBits(FileType t) {
  switch (t) {
    case FileType::kCharDevice: return S_IFCHR;
    case FileType::kBlockDevice: return S_IFBLK;
    case FileType::kFifo: return S_IFIFO;
    default: return S_IFSOCK;
  }
}

std::string_view BaseName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view DirName(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

int OpenDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) BadInput("cannot open the folder " + path + ": " + ErrnoString());
  return fd;
}

namespace {

FileType TypeOf(mode_t m) {
  if (S_ISDIR(m)) return FileType::kDirectory;
  if (S_ISLNK(m)) return FileType::kSymlink;
  if (S_ISCHR(m)) return FileType::kCharDevice;
  if (S_ISBLK(m)) return FileType::kBlockDevice;
  if (S_ISFIFO(m)) return FileType::kFifo;
  if (S_ISSOCK(m)) return FileType::kSocket;
  return FileType::kRegular;
}

Entry FromStat(std::string path, const struct stat& st) {
  Entry e;
  e.path = std::move(path);
  e.type = TypeOf(st.st_mode);
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.size = e.type == FileType::kRegular ? static_cast<uint64_t>(st.st_size) : 0;
  e.mtime_sec = st.st_mtim.tv_sec;
  e.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  e.nlink = st.st_nlink;
  if (e.type == FileType::kCharDevice || e.type == FileType::kBlockDevice) e.rdev = st.st_rdev;
  return e;
}

struct Walker {
  std::string root_display;
  bool check_readable;
  std::vector<Entry>* out;

  std::string Show(const std::string& rel) const {
    return rel.empty() ? root_display : root_display + "/" + rel;
  }

  void Walk(int dir_fd, const std::string& rel) {
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) Fail("cannot read the folder " + Show(rel) + ": " + ErrnoString());
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      Fail("cannot read the folder " + Show(rel) + ": " + ErrnoString());
    }
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* de = ::readdir(d)) {
      std::string_view n = de->d_name;
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    int err = errno;
    if (err) {
      ::closedir(d);
      Fail("cannot read the folder " + Show(rel) + ": " + ErrnoString(err));
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      struct stat st;
      std::string child = rel.empty() ? name : rel + "/" + name;
      if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // vanished while we listed: like rsync, carry on
        int e = errno;
        ::closedir(d);
        Fail("cannot read " + Show(child) + ": " + ErrnoString(e));
      }
      Entry e = FromStat(child, st);
      if (e.type == FileType::kSymlink) {
        std::string buf(static_cast<size_t>(st.st_size) + 1, '\0');
        for (;;) {
          ssize_t n = ::readlinkat(::dirfd(d), name.c_str(), buf.data(), buf.size());
          if (n < 0) {
            int er = errno;
            ::closedir(d);
            Fail("cannot read the symlink " + Show(child) + ": " + ErrnoString(er));
          }
          if (static_cast<size_t>(n) < buf.size()) {
            buf.resize(static_cast<size_t>(n));
            break;
          }
          buf.resize(buf.size() * 2);
        }
        e.link_target = std::move(buf);
      } else if (e.type == FileType::kRegular && check_readable &&
                 ::faccessat(::dirfd(d), name.c_str(), R_OK, AT_EACCESS) != 0) {
        int er = errno;
        ::closedir(d);
        BadInput("cannot read " + Show(child) + ": " + ErrnoString(er) +
                 " (run as root, or fix its permissions)");
      }
      bool is_dir = e.type == FileType::kDirectory;
      out->push_back(std::move(e));
      if (is_dir) {
        int sub = ::openat(::dirfd(d), name.c_str(),
                           O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
          int er = errno;
          ::closedir(d);
          Fail("cannot read the folder " + Show(child) + ": " + ErrnoString(er));
        }
        Fd guard(sub);
        try {
          Walk(sub, child);
        } catch (...) {
          ::closedir(d);
          throw;
        }
      }
    }
    ::closedir(d);
  }
};

}  // namespace

std::vector<Entry> ListTree(int root_fd, const std::string& root_display, bool check_readable) {
  struct stat st;
  if (::fstat(root_fd, &st) != 0) Fail("cannot read " + root_display + ": " + ErrnoString());
  std::vector<Entry> out;
  out.push_back(FromStat("", st));
  Walker w{root_display, check_readable && ::geteuid() != 0, &out};
  w.Walk(root_fd, "");
  return out;
}

std::vector<Entry> ListTreeIfExists(const std::string& dir) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
  Fd fd(OpenDir(dir));
  return ListTree(fd.get(), dir, false);
}

}  // namespace mig::sync
