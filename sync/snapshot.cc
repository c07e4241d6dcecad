// data.backup/: a hard-link snapshot of the target's data/ taken before the merge.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fd.h"
#include "sync/apply.h"

namespace mig::sync {

uint64_t HardLinkSnapshot(const std::string& root, const std::string& backup_root) {
  Fd src(OpenDir(root));
  std::unique_ptr<TreeStream> walk = WalkTree(src.get(), root, false);
  if (::mkdir(backup_root.c_str(), 0700) != 0)
    Fail("cannot create " + backup_root + ": " + ErrnoString());
  Fd dst(OpenDir(backup_root));
  const bool root_user = ::geteuid() == 0;
  auto set_attrs = [&](const std::string& rel, const Entry& e) {
    const char* p = rel.empty() ? "." : rel.c_str();
    if (root_user) ::fchownat(dst.get(), p, e.uid, e.gid, AT_SYMLINK_NOFOLLOW);
    if (e.type != FileType::kSymlink) ::fchmodat(dst.get(), p, e.mode, 0);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {e.mtime_sec, static_cast<long>(e.mtime_nsec)}};
    ::utimensat(dst.get(), p, ts, AT_SYMLINK_NOFOLLOW);
  };
  // A folder gets its attributes when the walk leaves it (its mtime after what it holds).
  std::vector<Entry> open;
  auto close_until = [&](const std::string* parent) {
    while (!open.empty() && (!parent || open.back().path != *parent)) {
      set_attrs(open.back().path, open.back());
      open.pop_back();
    }
  };
  uint64_t count = 0;
  Entry e;
  while (walk->Next(e)) {
    ++count;
    if (e.path.empty()) {
      open.push_back(e);
      continue;
    }
    std::string parent(DirName(e.path));
    close_until(&parent);
    const std::string show = backup_root + "/" + e.path;
    const char* p = e.path.c_str();
    switch (e.type) {
      case FileType::kDirectory:
        if (::mkdirat(dst.get(), p, 0700) != 0) Fail("cannot create " + show + ": " + ErrnoString());
        open.push_back(e);
        break;
      case FileType::kRegular:
        if (::linkat(src.get(), p, dst.get(), p, 0) != 0) {
          if (errno != EXDEV && errno != EMLINK && errno != EPERM)
            Fail("cannot link " + show + ": " + ErrnoString());
          int in = ::openat(src.get(), p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          if (in < 0) Fail("cannot read " + root + "/" + e.path + ": " + ErrnoString());
          Fd in_fd(in);
          int out = ::openat(dst.get(), p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
          if (out < 0) Fail("cannot create " + show + ": " + ErrnoString());
          Fd out_fd(out);
          CopyFd(in, out, root + "/" + e.path);
          set_attrs(e.path, e);
        }
        break;
      case FileType::kSymlink:
        if (::symlinkat(e.link_target.c_str(), dst.get(), p) != 0)
          Fail("cannot create " + show + ": " + ErrnoString());
        set_attrs(e.path, e);
        break;
      default: {
        mode_t type = SpecialModeBits(e.type);
        if (::mknodat(dst.get(), p, type | 0600, static_cast<dev_t>(e.rdev)) == 0) set_attrs(e.path, e);
        break;
      }
    }
  }
  close_until(nullptr);
  if (::syncfs(dst.get()) != 0) Fail("cannot flush " + backup_root + ": " + ErrnoString());
  return count;
}

}  // namespace mig::sync
