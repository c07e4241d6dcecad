#include "restore/data_step.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "sync/apply.h"

namespace fs = std::filesystem;

namespace mig {

namespace {

dev_t DeviceOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) Fail("cannot stat " + path + ": " + ErrnoString());
  return st.st_dev;
}

// syncfs(2) of the file system that holds `dir`; false with errno set when it fails.
bool SyncFileSystem(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::syncfs(fd) == 0;
  const int err = errno;
  ::close(fd);
  errno = err;
  return ok;
}

std::vector<std::string> NamesIn(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().filename().string());
  if (ec) Fail("cannot list " + dir + ": " + ec.message());
  return names;
}

// data/ a mount point: each top-level entry of the stage exchanged with data/'s of that name or
// moved in, data/'s others moved out to the work folder, which is then removed (the safety copy
// holds what it had); last data/ gets the staged folder's mode, owner and times (what the
// exchange of the folder carries otherwise). A rename that fails undoes the ones before it.
void SwapInPlace(const StagedData& s) {
  const std::string work = fs::path(s.stage).parent_path().string(), replaced = work + "/replaced";
  struct stat root {};  // before the moves change the staged folder's times
  if (::lstat(s.stage.c_str(), &root) != 0) Fail("cannot stat " + s.stage + ": " + ErrnoString());
  std::error_code ec;
  fs::create_directory(replaced, ec);
  if (ec) Fail("cannot create " + replaced + ": " + ec.message());
  struct Done {
    std::string a, b;
    bool exchanged;  // else moved from a to b
  };
  std::vector<Done> done;
  auto undo_and_fail = [&](const std::string& what) {
    const int err = errno;
    std::string left;
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      const int r = it->exchanged ? ::renameat2(AT_FDCWD, it->a.c_str(), AT_FDCWD, it->b.c_str(), RENAME_EXCHANGE)
                                  : ::rename(it->b.c_str(), it->a.c_str());
      if (r != 0 && left.empty()) left = it->exchanged ? it->b : it->a;
    }
    Fail(what + ": " + ErrnoString(err) +
         (left.empty() ? "; data/ is as it was"
                       : "; data/ could not be put back as it was (" + left +
                             "): roll it back from the safety copy as the report says"));
  };
  const auto staged = NamesIn(s.stage);
  for (const auto& name : staged) {
    const std::string from = s.stage + "/" + name, to = s.data_dir + "/" + name;
    if (name == kRestoreStageName) {
      TheLog().warn("the backup's data/" + name + " is not restored: the restore stages data/ under that name");
      continue;
    }
    struct stat st {};
    const bool there = ::lstat(to.c_str(), &st) == 0;
    const int r = there ? ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_EXCHANGE)
                        : ::rename(from.c_str(), to.c_str());
    if (r != 0) undo_and_fail("cannot put the restored " + from + " in place of " + to);
    done.push_back({from, to, there});
  }
  for (const auto& name : NamesIn(s.data_dir)) {
    if (name == kRestoreStageName || std::find(staged.begin(), staged.end(), name) != staged.end()) continue;
    const std::string from = s.data_dir + "/" + name, to = replaced + "/" + name;
    if (::rename(from.c_str(), to.c_str()) != 0) undo_and_fail("cannot move " + from + " out of the way");
    done.push_back({from, to, false});
  }
  fs::remove_all(work, ec);
  if (ec)
    Fail("data/ is the backup's, but its replaced entries in " + work + " could not be removed (" + ec.message() +
         "): remove that folder (the safety copy holds them)");
  const struct timespec times[2] = {root.st_atim, root.st_mtim};
  if (::chown(s.data_dir.c_str(), root.st_uid, root.st_gid) != 0 || ::chmod(s.data_dir.c_str(), root.st_mode & 07777) != 0 ||
      ::utimensat(AT_FDCWD, s.data_dir.c_str(), times, 0) != 0)  // its content is the backup's already
    TheLog().warn("could not give " + s.data_dir + " the backup's mode, owner and times: " + ErrnoString());
  SyncFileSystem(s.data_dir);
}

// True when a folder on the way from `root` to `root`/`rel` (root excluded, rel's last part
// included) is a symbolic link: nothing is written through one.
bool ThroughLink(const std::string& root, const std::string& rel) {
  std::string path = root;
  std::istringstream in(rel);
  std::string part;
  while (std::getline(in, part, '/')) {
    path += "/" + part;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return false;  // the rest does not exist yet
    if (S_ISLNK(st.st_mode)) return true;
  }
  return false;
}

// renameat2(RENAME_EXCHANGE) on two empty folders in `dir`: some file systems (NFS, ZFS before
// 2.2) refuse it, and that must be known before the database is swapped in.
void TryExchange(const std::string& dir) {
  const std::string a = dir + "/.exchange-a", b = dir + "/.exchange-b";
  std::error_code ec;
  fs::create_directory(a, ec);
  fs::create_directory(b, ec);
  int r = ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
  int err = errno;
  fs::remove(a, ec);
  fs::remove(b, ec);
  if (r != 0)
    Fail("the file system of " + dir + " cannot exchange two folders in one step (renameat2: " + ErrnoString(err) +
         "): a restore of data/ needs it; restore with --skip-data and `restic restore` data/ by hand");
}

void SyncFolder(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

StagedData FillStage(StagedData s, const std::function<void(const std::string& work_dir)>& fill,
                     const std::string& work_dir, const std::vector<std::string>& keep) {
  const std::string& data_dir = s.data_dir;
  std::error_code ec;
  fs::remove_all(work_dir, ec);  // an interrupted restore's leftovers
  if (ec) Fail("cannot empty " + work_dir + ": " + ec.message());
  fs::create_directories(work_dir, ec);
  if (ec) Fail("cannot create " + work_dir + ": " + ec.message());
  const std::string parent = fs::path(data_dir).parent_path().string();
  if (DeviceOf(work_dir) != DeviceOf(s.in_place ? data_dir : parent))
    Fail(work_dir + " is not on the file system of " + data_dir + ": the restore cannot swap it in");
  TryExchange(work_dir);
  fill(work_dir);
  struct stat staged {};
  if (::lstat(s.stage.c_str(), &staged) == 0 && !S_ISDIR(staged.st_mode))
    Fail("the backup's data/ is not a folder: nothing was changed");
  if (!fs::is_directory(s.stage, ec)) {
    fs::create_directories(s.stage, ec);  // the backup had no data/: the install's becomes empty
    if (ec) Fail("cannot create " + s.stage + ": " + ec.message());
  }
  for (const auto& k : keep) {
    const std::string from = data_dir + "/" + k, to = s.stage + "/" + k;
    struct stat st {};
    if (::lstat(from.c_str(), &st) != 0) continue;  // nothing there to keep
    if (ThroughLink(s.stage, k) || ThroughLink(data_dir, k))
      Fail("the kept path data/" + k + " lies under a symbolic link (in the backup or in data/): a restore never "
           "writes through one; restore without --skip for that service");
    fs::remove_all(to, ec);
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (ec) Fail("cannot create the folder of " + to + ": " + ec.message());
    if (S_ISDIR(st.st_mode)) {
      s.kept += sync::HardLinkSnapshot(from, to);
    } else {
      if (::link(from.c_str(), to.c_str()) != 0) Fail("cannot link " + from + " to " + to + ": " + ErrnoString());
      ++s.kept;
    }
  }
  if (!SyncFileSystem(s.stage)) Fail("cannot sync " + s.stage + ": " + ErrnoString());  // durable before the swap
  return s;
}

}  // namespace

StagedData StageData(const std::function<void(const std::string& work_dir)>& fill, const std::string& data_dir,
                     const std::string& work_dir, const std::vector<std::string>& keep) {
  StagedData s;
  s.data_dir = data_dir;
  s.stage = work_dir + "/data";
  std::error_code ec;
  if (fs::is_symlink(data_dir, ec))
    BadInput(data_dir + " is a symbolic link: a restore puts a folder in its place in one rename, which would "
             "replace the link; not supported yet (make data/ a folder, e.g. a bind mount of the other disk)");
  s.in_place = DataIsMountPoint(data_dir);
  try {
    return FillStage(s, fill, work_dir, keep);
  } catch (...) {
    if (s.in_place) fs::remove_all(work_dir, ec);  // never a half-restored tree left inside data/
    throw;
  }
}

bool DataIsMountPoint(const std::string& data_dir) {
  struct statx stx {};
  if (::statx(AT_FDCWD, data_dir.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) != 0 || !S_ISDIR(stx.stx_mode))
    return false;
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  return DeviceOf(data_dir) != DeviceOf(fs::path(data_dir).parent_path().string());
}

std::string StageWorkDir(const std::string& data_dir, const std::string& default_work) {
  return DataIsMountPoint(data_dir) ? data_dir + "/" + kRestoreStageName : default_work;
}

void SwapData(const StagedData& s) {
  if (s.in_place) return SwapInPlace(s);
  std::error_code ec;
  const std::string work = fs::path(s.stage).parent_path().string();
  if (!fs::exists(s.data_dir, ec)) {
    if (::rename(s.stage.c_str(), s.data_dir.c_str()) != 0)
      Fail("cannot move " + s.stage + " to " + s.data_dir + ": " + ErrnoString());
  } else if (::renameat2(AT_FDCWD, s.data_dir.c_str(), AT_FDCWD, s.stage.c_str(), RENAME_EXCHANGE) != 0) {
    Fail("cannot exchange " + s.data_dir + " with the restored " + s.stage + ": " + ErrnoString());
  }
  SyncFolder(fs::path(s.data_dir).parent_path().string());
  fs::remove_all(work, ec);  // the replaced tree: the safety copy holds it
  if (ec) TheLog().warn("could not remove the replaced data/ at " + s.stage + ": " + ec.message());
}

}  // namespace mig
