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

// Reads the names of the open folder `fd` (taken), sorted; throws on a read error.
std::vector<std::string> SortedNames(int fd, const std::string& display) {
  DIR* d = ::fdopendir(fd);
  if (!d) {
    int e = errno;
    ::close(fd);
    Fail("cannot read the folder " + display + ": " + ErrnoString(e));
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(d)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err) Fail("cannot read the folder " + display + ": " + ErrnoString(err));
  std::sort(names.begin(), names.end());
  return names;
}

class TreeWalker : public TreeStream {
 public:
  TreeWalker(int root_fd, std::string root_display, bool check_readable, std::vector<std::string> only = {})
      : root_fd_(root_fd), root_display_(std::move(root_display)), check_readable_(check_readable), only_(std::move(only)) {}

  bool Next(Entry& out) override {
    if (!started_) {
      started_ = true;
      struct stat st;
      if (::fstat(root_fd_, &st) != 0) Fail("cannot read " + root_display_ + ": " + ErrnoString());
      out = FromStat("", st);
      Enter(root_fd_, "");
      return true;
    }
    while (!levels_.empty()) {
      Level& l = levels_.back();
      if (l.next == l.names.size()) {
        levels_.pop_back();
        continue;
      }
      const std::string& name = l.names[l.next++];
      std::string child = l.rel.empty() ? name : l.rel + "/" + name;
      // Outside `only`: never stat'ed, never entered; but a temporary file of ours (a merge cut
      // short) is listed, for the merge to remove it.
      if (!Selected(child, only_) && !IsTempName(name)) continue;
      struct stat st;
      if (::fstatat(l.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // vanished while we listed: like rsync, carry on
        Fail("cannot read " + Show(child) + ": " + ErrnoString());
      }
      out = FromStat(child, st);
      if (out.type == FileType::kSymlink) {
        out.link_target = ReadLink(l.fd.get(), name, static_cast<size_t>(st.st_size), child);
      } else if (out.type == FileType::kRegular && check_readable_ &&
                 ::faccessat(l.fd.get(), name.c_str(), R_OK, AT_EACCESS) != 0) {
        BadInput("cannot read " + Show(child) + ": " + ErrnoString() + " (run as root, or fix its permissions)");
      } else if (out.type == FileType::kDirectory) {
        Enter(l.fd.get(), name, child);
      }
      return true;
    }
    return false;
  }

 private:
  struct Level {
    Fd fd;
    std::string rel;
    std::vector<std::string> names;
    size_t next = 0;
  };

  std::string Show(const std::string& rel) const { return rel.empty() ? root_display_ : root_display_ + "/" + rel; }

  void Enter(int root_fd, const std::string& rel) {
    int fd = ::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) Fail("cannot read the folder " + Show(rel) + ": " + ErrnoString());
    Push(fd, rel);
  }
  void Enter(int parent_fd, const std::string& name, const std::string& rel) {
    int fd = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) Fail("cannot read the folder " + Show(rel) + ": " + ErrnoString());
    Push(fd, rel);
  }
  void Push(int fd, const std::string& rel) {
    Level l;
    l.fd = Fd(::dup(fd));  // fdopendir takes fd; the level keeps its own for fstatat/openat
    if (!l.fd.valid()) {
      int e = errno;
      ::close(fd);
      Fail("cannot read the folder " + Show(rel) + ": " + ErrnoString(e));
    }
    l.names = SortedNames(fd, Show(rel));
    l.rel = rel;
    levels_.push_back(std::move(l));
  }

  std::string ReadLink(int dir, const std::string& name, size_t size_hint, const std::string& child) {
    std::string buf(size_hint + 1, '\0');
    for (;;) {
      ssize_t n = ::readlinkat(dir, name.c_str(), buf.data(), buf.size());
      if (n < 0) Fail("cannot read the symlink " + Show(child) + ": " + ErrnoString());
      if (static_cast<size_t>(n) < buf.size()) {
        buf.resize(static_cast<size_t>(n));
        return buf;
      }
      buf.resize(buf.size() * 2);
    }
  }

  int root_fd_;
  std::string root_display_;
  bool check_readable_;
  std::vector<std::string> only_;
  bool started_ = false;
  std::vector<Level> levels_;
};

class SelectedStream : public TreeStream {
 public:
  SelectedStream(std::unique_ptr<TreeStream> s, std::vector<std::string> only) : s_(std::move(s)), only_(std::move(only)) {}
  bool Next(Entry& e) override {
    while (s_->Next(e))
      if (Selected(e.path, only_)) return true;
    return false;
  }

 private:
  std::unique_ptr<TreeStream> s_;
  std::vector<std::string> only_;
};

class VectorStream : public TreeStream {
 public:
  explicit VectorStream(std::vector<Entry> v) : v_(std::move(v)) {}
  bool Next(Entry& e) override {
    if (i_ == v_.size()) return false;
    e = v_[i_++];
    return true;
  }

 private:
  std::vector<Entry> v_;
  size_t i_ = 0;
};

// A TreeWalker that owns its root folder's descriptor.
class OwningWalker : public TreeStream {
 public:
  OwningWalker(Fd fd, const std::string& display, std::vector<std::string> only)
      : fd_(std::move(fd)), w_(fd_.get(), display, false, std::move(only)) {}
  bool Next(Entry& e) override { return w_.Next(e); }

 private:
  Fd fd_;
  TreeWalker w_;
};

}  // namespace

bool ListOrderLess(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    unsigned char x = a[i] == '/' ? 0 : static_cast<unsigned char>(a[i]);
    unsigned char y = b[i] == '/' ? 0 : static_cast<unsigned char>(b[i]);
    return x < y;
  }
  return a.size() < b.size();
}

std::unique_ptr<TreeStream> WalkTree(int root_fd, const std::string& root_display, bool check_readable) {
  return std::make_unique<TreeWalker>(root_fd, root_display, check_readable && ::geteuid() != 0);
}

std::unique_ptr<TreeStream> WalkTreeIfExists(const std::string& dir, const std::vector<std::string>& only) {
  struct stat st;
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return StreamOf({});
  return std::make_unique<OwningWalker>(Fd(OpenDir(dir)), dir, only);
}

bool Selected(std::string_view path, const std::vector<std::string>& only) {
  if (only.empty() || path.empty()) return true;
  auto under = [](std::string_view a, std::string_view b) {  // a is b or inside it
    return a.size() >= b.size() && a.compare(0, b.size(), b) == 0 && (a.size() == b.size() || a[b.size()] == '/');
  };
  for (const auto& p : only)
    if (under(path, p) || under(p, path)) return true;
  return false;
}

std::unique_ptr<TreeStream> SelectedOf(std::unique_ptr<TreeStream> s, std::vector<std::string> only) {
  if (only.empty()) return s;
  return std::make_unique<SelectedStream>(std::move(s), std::move(only));
}

std::unique_ptr<TreeStream> StreamOf(std::vector<Entry> entries) {
  return std::make_unique<VectorStream>(std::move(entries));
}

std::vector<Entry> Collect(TreeStream& s) {
  std::vector<Entry> out;
  Entry e;
  while (s.Next(e)) out.push_back(std::move(e));
  return out;
}

std::vector<Entry> ListTree(int root_fd, const std::string& root_display, bool check_readable) {
  return Collect(*WalkTree(root_fd, root_display, check_readable));
}

std::vector<Entry> ListTreeIfExists(const std::string& dir) { return Collect(*WalkTreeIfExists(dir)); }

}  // namespace mig::sync
