// A base backup unpacked, verified and swapped in on this host (docs/physical-db.md).
#include "db/cluster_files.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>

#include "core/archive_feed.h"
#include "core/error.h"
#include "core/fd.h"
#include "core/files.h"
#include "core/io.h"
#include "core/log.h"
#include "db/crc32c.h"

namespace mig::db {

namespace {

constexpr size_t kMaxManifest = 512u << 20;

// A path of the backup, checked: relative, no empty, "." or ".." component; a folder's trailing
// slash and leading "./" dropped (pg_basebackup names its pg_wal/ entries "./pg_wal/..."); "."
// for the root itself. "" when refused.
std::string CheckedPath(const char* raw) {
  if (!raw) return "";
  std::string p = raw;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  if (p == ".") return p;
  if (p.empty() || p.front() == '/') return "";
  size_t start = 0;
  while (true) {
    const size_t slash = p.find('/', start);
    const std::string part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return "";
    if (slash == std::string::npos) return p;
    start = slash + 1;
  }
}

// The folder an entry is made in, opened beneath the root (the last one kept: a tar lists a
// folder's entries together).
class Parents {
 public:
  explicit Parents(int root) : root_(root) {}
  int For(const std::string& path, const std::string& dir_for_messages) {
    const size_t slash = path.rfind('/');
    const std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    if (parent.empty()) return root_;
    if (parent != last_ || !fd_.valid()) {
      fd_ = Fd(OpenBeneath(root_, parent, O_RDONLY | O_DIRECTORY));
      if (!fd_.valid())
        Fail("cannot open the folder " + parent + " of the base backup in " + dir_for_messages + ": " + ErrnoString());
      last_ = parent;
    }
    return fd_.get();
  }

 private:
  int root_;
  std::string last_;
  Fd fd_;
};

// The names in a folder; more than `limit` of them is refused.
std::vector<std::string> EntriesOf(int dir_fd, const std::string& shown, uint64_t limit = UINT64_MAX) {
  int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = dup >= 0 ? ::fdopendir(dup) : nullptr;
  if (!d) Fail("cannot list " + shown + ": " + ErrnoString());
  std::vector<std::string> out;
  ::rewinddir(d);
  while (struct dirent* de = ::readdir(d)) {
    const std::string n = de->d_name;
    if (n == "." || n == "..") continue;
    if (out.size() >= limit) {
      ::closedir(d);
      Fail(shown + " holds more entries than a base backup may (" + std::to_string(limit) + " left of its limit): refused");
    }
    out.push_back(n);
  }
  ::closedir(d);
  return out;
}

}  // namespace

bool UnpacksZstd() {
  static const bool ok = [] {
    std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
    return archive_read_support_filter_zstd(a.get()) == ARCHIVE_OK;  // WARN: through an external zstd
  }();
  return ok;
}

UnpackResult UnpackTar(Proc& from, const std::string& dir, uid_t uid, gid_t gid,
                       const std::function<void(uint64_t)>& progress) {
  UnpackResult res;
  Fd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.valid()) Fail("cannot open " + dir + ": " + ErrnoString());
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  ArchiveFeed feed(from, progress);
  auto check_feed = [&] { feed.Check(); };
  if (feed.Open(a.get()) != ARCHIVE_OK) {
    check_feed();
    Fail(std::string("the base backup is not a tar stream: ") + archive_error_string(a.get()));
  }
  Parents parents(root.get());
  std::vector<char> buf(1u << 20);
  struct archive_entry* e = nullptr;
  while (true) {
    const int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    check_feed();
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      Fail(std::string("the base backup's tar stream is damaged: ") + archive_error_string(a.get()));
    const std::string path = CheckedPath(archive_entry_pathname(e));
    if (path.empty())
      Fail(std::string("the base backup holds an entry named \"") + (archive_entry_pathname(e) ? archive_entry_pathname(e) : "") +
           "\", outside the folder it is unpacked in: refused");
    if (path == "." || LeftByACopy(path)) continue;  // libarchive skips its data
    const int parent = parents.For(path, dir);
    const std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    const mode_t perm = archive_entry_perm(e) & 0777;
    const std::string what = path + " of the base backup in " + dir;
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        if (::mkdirat(parent, name.c_str(), 0700) != 0) Fail("cannot make " + what + ": " + ErrnoString());
        if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            ::fchmodat(parent, name.c_str(), perm | S_IRWXU, 0) != 0)
          Fail("cannot give " + what + " its owner and mode: " + ErrnoString());
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (!target || ::symlinkat(target, parent, name.c_str()) != 0) Fail("cannot make " + what + ": " + ErrnoString());
        if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
          Fail("cannot give " + what + " its owner: " + ErrnoString());
        break;
      }
      case AE_IFREG: {
        Fd f(::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!f.valid()) Fail("cannot make " + what + ": " + ErrnoString());
        if (::fchown(f.get(), uid, gid) != 0) Fail("cannot give " + what + " its owner: " + ErrnoString());
        Crc32c crc;
        uint64_t written = 0;
        const bool keep = path == "backup_manifest";
        for (;;) {
          const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
          if (n == 0) break;
          if (n < 0) {
            check_feed();
            Fail("the base backup's tar stream is damaged in " + path + ": " + archive_error_string(a.get()));
          }
          crc.Update(buf.data(), static_cast<size_t>(n));
          WriteAllAt(f.get(), buf.data(), static_cast<size_t>(n), static_cast<off_t>(written), what);
          if (keep) {
            if (res.manifest.size() + static_cast<size_t>(n) > kMaxManifest)
              Fail("the base backup's manifest is larger than " + std::to_string(kMaxManifest >> 20) + " MiB: refused");
            res.manifest.append(buf.data(), static_cast<size_t>(n));
          }
          written += static_cast<uint64_t>(n);
        }
        if (::fchmod(f.get(), perm) != 0) Fail("cannot give " + what + " its mode: " + ErrnoString());
        const struct timespec times[2] = {{0, UTIME_OMIT}, {archive_entry_mtime(e), 0}};
        ::futimens(f.get(), times);
        if (!res.seen.emplace(path, SeenFile{written, crc.Hex()}).second) Fail("the base backup names " + path + " twice");
        res.bytes_out += written;
        ++res.files;
        break;
      }
      default:
        Fail("the base backup holds " + path + ", neither a folder, a file nor a symbolic link: refused");
    }
  }
  check_feed();
  res.bytes_in = feed.bytes();
  return res;
}

void RemoveBeneath(const std::string& folder, const std::string& name) {
  Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  try {
    if (!dir.valid()) Fail("cannot open " + folder + ": " + ErrnoString());
    RemoveTreeAt(dir.get(), name, folder + "/" + name);
  } catch (const Error& e) {
    TheLog().warn(std::string("could not remove what a copy left: ") + e.what());
  }
}

UnpackResult MovePlainBackup(const std::string& from, const std::string& to, uid_t uid, gid_t gid) {
  constexpr uint64_t kMaxEntries = 50'000'000;  // a tree filled as fast as it is walked ends
  UnpackResult res;
  Fd old_root(::open(from.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!old_root.valid()) Fail("cannot open " + from + ": " + ErrnoString());
  if (::mkdir(to.c_str(), 0700) != 0) Fail("cannot make " + to + ": " + ErrnoString());
  Fd new_root(::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!new_root.valid() || ::fchown(new_root.get(), uid, gid) != 0) Fail("cannot make " + to + ": " + ErrnoString());
  // Folders still to walk: their path in the backup ("" for the root), the folder written there
  // and the one made here for it.
  struct Pending {
    std::string path;
    Fd old_dir, new_dir;
  };
  std::vector<Pending> folders;
  folders.push_back({"", std::move(old_root), std::move(new_root)});
  uint64_t entries = 0;
  while (!folders.empty()) {
    Pending f = std::move(folders.back());
    folders.pop_back();
    for (const std::string& name : EntriesOf(f.old_dir.get(), from + "/" + f.path, kMaxEntries - entries)) {
      const std::string path = f.path.empty() ? name : f.path + "/" + name;
      const std::string what = path + " of the base backup in " + from;
      ++entries;
      if (LeftByACopy(path)) continue;  // removed with the folder it was written in
      struct stat st {};
      if (::fstatat(f.old_dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        Fail("cannot read " + what + ": " + ErrnoString());
      if (S_ISDIR(st.st_mode)) {
        Fd old_sub(::openat(f.old_dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!old_sub.valid()) Fail("cannot open " + what + ": " + ErrnoString());
        if (::mkdirat(f.new_dir.get(), name.c_str(), 0700) != 0) Fail("cannot make " + path + " in " + to + ": " + ErrnoString());
        Fd new_sub(::openat(f.new_dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!new_sub.valid() || ::fchown(new_sub.get(), uid, gid) != 0)
          Fail("cannot make " + path + " in " + to + ": " + ErrnoString());
        folders.push_back({path, std::move(old_sub), std::move(new_sub)});
        continue;
      }
      // Moved first, then looked at where only this process writes: what the writer may change
      // under the name up to the move is what is checked.
      if (::renameat2(f.old_dir.get(), name.c_str(), f.new_dir.get(), name.c_str(), RENAME_NOREPLACE) != 0)
        Fail("cannot move " + what + " to " + to + ": " + ErrnoString());
      if (::fstatat(f.new_dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        Fail("cannot read " + path + " in " + to + ": " + ErrnoString());
      if (S_ISLNK(st.st_mode)) {
        if (::fchownat(f.new_dir.get(), name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
          Fail("cannot give " + path + " in " + to + " its owner: " + ErrnoString());
        continue;
      }
      if (!S_ISREG(st.st_mode))
        Fail("the base backup holds " + path + ", neither a folder, a file nor a symbolic link: refused");
      // pg_basebackup makes every file anew: another name for the same file (a hard link) would
      // be the writer's way into the copy.
      if (st.st_nlink != 1) Fail("the base backup's " + path + " has other names (hard links): refused");
      Fd file(::openat(f.new_dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
      if (!file.valid() || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1)
        Fail("cannot open " + path + " in " + to + " as the file it was: " + ErrnoString());
      if (::fchown(file.get(), uid, gid) != 0 || ::fchmod(file.get(), 0600) != 0)
        Fail("cannot give " + path + " in " + to + " its owner and mode: " + ErrnoString());
      if (path == "backup_manifest") {
        std::vector<char> buf(1u << 16);
        while (const size_t n = ReadFd(file.get(), buf.data(), buf.size(), what.c_str())) {
          if (res.manifest.size() + n > kMaxManifest)
            Fail("the base backup's manifest is larger than " + std::to_string(kMaxManifest >> 20) + " MiB: refused");
          res.manifest.append(buf.data(), n);
        }
      }
      res.seen.emplace(path, SeenFile{static_cast<uint64_t>(st.st_size), ""});
      res.bytes_out += static_cast<uint64_t>(st.st_size);
      ++res.files;
    }
  }
  // Its folders, emptied (and what was left out): best effort, the copy is whole; a tree its
  // writer keeps filling is left to the next copy's sweep (RemoveAbandonedPlainCopies).
  const size_t slash = from.rfind('/');
  RemoveBeneath(slash == 0 ? "/" : from.substr(0, slash), from.substr(slash + 1));
  res.bytes_in = res.bytes_out;
  return res;
}

namespace {

constexpr const char* kNew = kStageName;
constexpr const char* kOld = kSetAsideName;
constexpr const char* kOwnSettings[] = {"postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"};

void Rename(int from_dir, const std::string& from, int to_dir, const std::string& to, const std::string& shown) {
  if (::renameat(from_dir, from.c_str(), to_dir, to.c_str()) != 0)
    Fail("the swap failed part way: cannot move " + from + " in " + shown + ": " + ErrnoString());
}

}  // namespace

std::string StandbyRestoreLines(const std::string& restore_dir) {
  return "\nrestore_command = 'cp " + restore_dir + "/%f %p'\nwal_retrieve_retry_interval = '100ms'\n";
}

bool SwapStagedCluster(const std::string& pgdata, bool standby, const std::string& restore_dir, std::string& refused) {
  Fd data(::open(pgdata.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!data.valid()) return refused = "cannot open " + pgdata + ": " + ErrnoString(), false;
  Fd stage(OpenBeneath(data.get(), kNew, O_RDONLY | O_DIRECTORY));
  if (!stage.valid()) return refused = "no staged copy in " + pgdata, false;
  struct stat st {};
  if (::fstatat(stage.get(), "PG_VERSION", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
    return refused = "the staged copy in " + pgdata + " is not a cluster", false;
  struct stat owner {};
  if (::fstat(data.get(), &owner) != 0) return refused = "cannot read " + pgdata + ": " + ErrnoString(), false;
  // The server's own settings go back over the copy's by rename: a folder of that name in the
  // copy would stop that half way.
  for (const char* f : kOwnSettings)
    if (::fstatat(stage.get(), f, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
      return refused = std::string("the staged copy holds a folder named ") + f, false;
  // A .migrate-old an earlier swap left behind is the target's older state, already replaced.
  std::error_code ec;
  std::filesystem::remove_all(pgdata + "/" + kOld, ec);
  Fd old;
  if (::mkdirat(data.get(), kOld, 0700) != 0) return refused = "cannot make " + pgdata + "/" + kOld + ": " + ErrnoString(), false;
  old = Fd(OpenBeneath(data.get(), kOld, O_RDONLY | O_DIRECTORY));
  if (!old.valid()) return refused = "cannot open " + pgdata + "/" + kOld + ": " + ErrnoString(), false;
  // From here PGDATA changes: a failure is part way (the roll back puts the target's cluster back).
  for (const auto& n : EntriesOf(data.get(), pgdata))
    if (n != kNew && n != kOld) Rename(data.get(), n, old.get(), n, pgdata);
  for (const auto& n : EntriesOf(stage.get(), pgdata + "/" + kNew)) Rename(stage.get(), n, data.get(), n, pgdata);
  for (const char* f : kOwnSettings) {
    if (::fstatat(old.get(), f, &st, AT_SYMLINK_NOFOLLOW) == 0) Rename(old.get(), f, data.get(), f, pgdata);
  }
  if (::unlinkat(data.get(), kNew, AT_REMOVEDIR) != 0) Fail("cannot remove the emptied " + pgdata + "/" + kNew + ": " + ErrnoString());
  if (standby) {
    if (::mkdirat(data.get(), "migrate-wal", 0700) != 0 && errno != EEXIST)
      Fail("cannot make " + pgdata + "/migrate-wal: " + ErrnoString());
    Fd signal(::openat(data.get(), "standby.signal", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    Fd conf(::openat(data.get(), "postgresql.auto.conf", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!signal.valid() || !conf.valid()) Fail("cannot make the copy in " + pgdata + " a standby: " + ErrnoString());
    const std::string lines = StandbyRestoreLines(restore_dir);
    WriteFd(conf.get(), lines.data(), lines.size(), "postgresql.auto.conf");
    for (const char* n : {"migrate-wal", "standby.signal", "postgresql.auto.conf"})
      if (::fchownat(data.get(), n, owner.st_uid, owner.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
        Fail(std::string("cannot give ") + pgdata + "/" + n + " its owner: " + ErrnoString());
  }
  if (::fsync(data.get()) != 0) Fail("cannot fsync " + pgdata + ": " + ErrnoString());
  return true;
}

}  // namespace mig::db
