#include "restore/data_step.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

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

void SyncFolder(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

StagedData StageData(const std::function<void(const std::string& work_dir)>& fill, const std::string& data_dir,
                     const std::string& work_dir, const std::vector<std::string>& keep) {
  StagedData s;
  s.data_dir = data_dir;
  s.stage = work_dir + "/data";
  std::error_code ec;
  fs::remove_all(work_dir, ec);  // an interrupted restore's leftovers
  if (ec) Fail("cannot empty " + work_dir + ": " + ec.message());
  fs::create_directories(work_dir, ec);
  if (ec) Fail("cannot create " + work_dir + ": " + ec.message());
  const std::string parent = fs::path(data_dir).parent_path().string();
  if (fs::is_symlink(data_dir, ec))
    BadInput(data_dir + " is a symbolic link: a restore puts a folder in its place in one rename, which would "
             "replace the link; not supported yet (make data/ a folder, e.g. a bind mount of the other disk)");
  if (fs::exists(data_dir, ec) && DeviceOf(data_dir) != DeviceOf(parent))
    Fail(data_dir + " is a file system of its own (a mount point): a restore puts the backup's data/ in its place "
         "in one rename, which cannot cross file systems; mount its parent instead, or restore with --skip-data "
         "and `restic restore` into it by hand");
  if (DeviceOf(work_dir) != DeviceOf(parent))
    Fail(work_dir + " is not on the file system of " + data_dir + ": the restore cannot swap it in");
  fill(work_dir);
  if (!fs::is_directory(s.stage, ec)) {
    fs::create_directories(s.stage, ec);  // the backup had no data/: the install's becomes empty
    if (ec) Fail("cannot create " + s.stage + ": " + ec.message());
  }
  for (const auto& k : keep) {
    const std::string from = data_dir + "/" + k, to = s.stage + "/" + k;
    struct stat st {};
    if (::lstat(from.c_str(), &st) != 0) continue;  // nothing there to keep
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
  int fd = ::open(s.stage.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // durable before it is swapped in
  bool synced = fd >= 0 && ::syncfs(fd) == 0;
  int err = errno;
  if (fd >= 0) ::close(fd);
  if (!synced) Fail("cannot sync " + s.stage + ": " + ErrnoString(err));
  return s;
}

void SwapData(const StagedData& s) {
  std::error_code ec;
  if (!fs::exists(s.data_dir, ec)) {
    if (::rename(s.stage.c_str(), s.data_dir.c_str()) != 0)
      Fail("cannot move " + s.stage + " to " + s.data_dir + ": " + ErrnoString());
  } else if (::renameat2(AT_FDCWD, s.data_dir.c_str(), AT_FDCWD, s.stage.c_str(), RENAME_EXCHANGE) != 0) {
    Fail("cannot exchange " + s.data_dir + " with the restored " + s.stage + ": " + ErrnoString());
  }
  SyncFolder(fs::path(s.data_dir).parent_path().string());
  const std::string work = fs::path(s.stage).parent_path().string();
  fs::remove_all(work, ec);  // the replaced tree: the safety copy holds it
  if (ec) TheLog().warn("could not remove the replaced data/ at " + s.stage + ": " + ec.message());
}

}  // namespace mig
