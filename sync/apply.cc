#include "sync/apply.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <future>
#include <memory>
#include <unordered_map>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "core/files.h"
#include "core/log.h"

namespace mig::sync {

namespace {

using DirFd = std::shared_ptr<Fd>;

// The target folder, opened one component at a time, never through a symlink.
class TargetTree {
  // Open folders kept for reuse: well under the usual limit of 1024 descriptors.
  static constexpr size_t kMaxCachedDirs = 256;

 public:
  TargetTree(std::string root, bool root_user) : root_(std::move(root)), root_user_(root_user) {
    ::mkdir(root_.c_str(), 0700);  // a target without data/ gets one; EEXIST is fine
    root_fd_ = std::make_shared<Fd>(OpenDir(root_));
  }

  int root_fd() const { return root_fd_->get(); }
  // For messages: control characters of a name (a hostile listing's escape sequences) as '?'.
  std::string Show(std::string_view rel) const {
    std::string out = rel.empty() ? root_ : root_ + "/" + std::string(rel);
    for (char& c : out)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    return out;
  }

  DirFd Dir(std::string_view rel) {
    if (rel.empty()) return root_fd_;
    auto it = cache_.find(std::string(rel));
    if (it != cache_.end()) return it->second;
    DirFd parent = Dir(DirName(rel));
    std::string base(BaseName(rel));
    int fd = ::openat(parent->get(), base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR)
        Fail("refusing to write through " + Show(rel) + ": it is not a folder (a symlink?)");
      Fail("cannot open the folder " + Show(rel) + ": " + ErrnoString());
    }
    auto d = std::make_shared<Fd>(fd);
    if (!root_user_) {  // a folder we cannot write into (0500) still receives its files
      struct stat st;
      if (::fstat(fd, &st) == 0 && (st.st_mode & 0700) != 0700) ::fchmod(fd, (st.st_mode & 07777) | 0700);
    }
    if (cache_.size() >= kMaxCachedDirs) cache_.clear();  // each holds a descriptor
    cache_.emplace(std::string(rel), d);
    return d;
  }

  // Forgets cached folders at or under rel (they are about to be removed).
  void Forget(const std::string& rel) {
    for (auto it = cache_.begin(); it != cache_.end();) {
      const std::string& p = it->first;
      bool under = p == rel || (p.size() > rel.size() && p[rel.size()] == '/' &&
                                p.compare(0, rel.size(), rel) == 0);
      it = under ? cache_.erase(it) : std::next(it);
    }
  }

 private:
  std::string root_;
  bool root_user_;
  DirFd root_fd_;
  std::unordered_map<std::string, DirFd> cache_;
};

struct timespec Ts(int64_t sec, uint32_t nsec) {
  struct timespec t;
  t.tv_sec = sec;
  t.tv_nsec = nsec;
  return t;
}

class Applier {
  struct Pending {
    DirFd dir;
    std::string tmp, name;
  };
  struct OpenFolder {
    Entry src;
    Action action;
    bool touched;  // something was written into it or removed from it
  };
  static constexpr size_t kMaxClosedDirs = 4096;  // closed folders waiting for a batch

 public:
  Applier(Source& src, const std::string& root, const ApplyOptions& opts)
      : src_(src), opts_(opts), root_user_(::geteuid() == 0), tree_(root, root_user_), pid_(::getpid()) {}

  // Removes the temporary files of the batch not yet renamed (best effort).
  void DropPending() {
    try {
      WaitFlush();
    } catch (const Error&) {
    }
    for (const auto& p : pending_) ::unlinkat(p.dir->get(), p.tmp.c_str(), 0);
    pending_.clear();
  }

  // Carries out one chunk of a plan (the chunks of one merge, in order).
  void ApplyChunk(const Plan& plan) {
    src_.Prepare(plan, [this](const Entry& e) {
      try {
        DirFd dir = tree_.Dir(DirName(e.path));
        // O_NONBLOCK: a fifo put there since the plan must not hang the merge.
        Fd fd(::openat(dir->get(), std::string(BaseName(e.path)).c_str(),
                       O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
        struct stat st {};
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return Fd();
        return fd;
      } catch (const Error&) {
        return Fd();
      }
    });
    size_t stale = 0;
    for (size_t i = 0; i <= plan.items.size(); ++i) {
      for (; stale < plan.stale_temps.size() && plan.stale_before[stale] == i; ++stale) RemoveStale(plan.stale_temps[stale]);
      if (i == plan.items.size()) break;
      Do(plan.items[i]);
      ++stats_.items_done;
      stats_.source_bytes_done += plan.items[i].src.size;
      if (opts_.progress) opts_.progress(stats_);
    }
  }

  // After the last chunk: the folders still open are closed, everything made durable.
  ApplyStats Finish() {
    CloseUntil(nullptr);
    Flush(/*wait=*/true);
    if (::syncfs(tree_.root_fd()) != 0) Fail("cannot flush " + tree_.Show("") + ": " + ErrnoString());
    ++stats_.syncs;
    return stats_;
  }

 private:
  std::string TempName() { return ".migrate.tmp." + std::to_string(pid_) + "." + std::to_string(++seq_); }

  void Do(const Item& item) {
    const Entry& s = item.src;
    if (!s.path.empty()) {
      std::string_view parent = DirName(s.path);
      CloseUntil(&parent);
    }
    if (s.type == FileType::kDirectory) {
      DoDir(item);
      return;
    }
    if (item.action == Action::kSkip) return;
    Touch();
    DirFd dir = tree_.Dir(DirName(s.path));
    std::string name(BaseName(s.path));
    if (item.type_change() && item.dst->type == FileType::kDirectory) {
      tree_.Forget(s.path);
      stats_.removed += RemoveTreeAt(dir->get(), name, tree_.Show(s.path));
    }
    switch (s.type) {
      case FileType::kRegular: DoFile(item, dir, name); break;
      case FileType::kSymlink: DoLink(item, dir, name); break;
      default: DoSpecial(item, dir, name); break;
    }
  }

  void DoDir(const Item& item) {
    const Entry& s = item.src;
    if (!s.path.empty() && (item.action == Action::kCreate || item.action == Action::kReplace)) {
      DirFd parent = tree_.Dir(DirName(s.path));
      std::string name(BaseName(s.path));
      if (item.type_change()) {
        stats_.removed += RemoveTreeAt(parent->get(), name, tree_.Show(s.path));
      }
      if (::mkdirat(parent->get(), name.c_str(), 0700) != 0)
        Fail("cannot create the folder " + tree_.Show(s.path) + ": " + ErrnoString());
      ++stats_.dirs_created;
      Touch();
    }
    open_.push_back({s, item.action, false});
  }

  // The folder being written into (the innermost open one) changes its mtime.
  void Touch() {
    if (!open_.empty()) open_.back().touched = true;
  }

  // Removes a temporary file an interrupted run left (its folder is one of the open ones,
  // unless only the target has that folder).
  void RemoveStale(const std::string& p) {
    DirFd dir = tree_.Dir(DirName(p));
    stats_.stale_temps_removed += RemoveTreeAt(dir->get(), std::string(BaseName(p)), tree_.Show(p));
    for (auto it = open_.rbegin(); it != open_.rend(); ++it)
      if (it->src.path == DirName(p)) it->touched = true;
  }

  // Closes the open folders down to `parent` (all of them with nullptr): a closed folder gets
  // its attributes once the files written into it are in place (Flush), deepest first.
  void CloseUntil(const std::string_view* parent) {
    while (!open_.empty() && (!parent || open_.back().src.path != *parent)) {
      closed_.push_back(std::move(open_.back()));
      open_.pop_back();
    }
    if (parent && open_.empty()) Fail("internal: the plan reaches " + std::string(*parent) + " before its folder");
    if (closed_.size() >= kMaxClosedDirs) Flush();
  }

  void SetOwnerModeTimes(int fd, const Entry& s, int64_t msec, uint32_t mnsec, const std::string& what) {
    if (opts_.set_owner && ::fchown(fd, s.uid, s.gid) != 0)
      Fail("cannot set the owner of " + what + ": " + ErrnoString());
    if (::fchmod(fd, s.mode) != 0) Fail("cannot set the mode of " + what + ": " + ErrnoString());
    struct timespec ts[2] = {Ts(0, UTIME_OMIT), Ts(msec, mnsec)};
    if (::futimens(fd, ts) != 0) Fail("cannot set the time of " + what + ": " + ErrnoString());
  }

  // An attribute change may be made in place only on an inode nothing else shares (no
  // hard link from data.backup/ or elsewhere); otherwise the entry is made anew.
  static bool AttrsInPlace(const Item& item) {
    return item.action == Action::kAttrs && item.dst->nlink <= 1;
  }

  void DoFile(const Item& item, const DirFd& dir, const std::string& name) {
    const Entry& s = item.src;
    const std::string what = tree_.Show(s.path);
    if (AttrsInPlace(item)) {
      SetAttrsAt(dir->get(), name, s, what);
      ++stats_.attrs_updated;
      return;
    }
    std::string tmp;
    int fd;
    do {  // a stale temporary of another run may hold the name still (removed later in order)
      tmp = TempName();
      fd = ::openat(dir->get(), tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    } while (fd < 0 && errno == EEXIST);
    if (fd < 0) Fail("cannot create a file in " + tree_.Show(DirName(s.path)) + ": " + ErrnoString());
    Fd out(fd);
    pending_.push_back({dir, tmp, name});  // from here a failure leaves only a temp name
    CopyResult r;
    if (item.action == Action::kAttrs) {
      // The inode is shared (data.backup/): give the target its own copy before the change.
      int in = ::openat(dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      if (in < 0) Fail("cannot open " + what + ": " + ErrnoString());
      Fd in_fd(in);
      struct stat st {};
      if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) Fail(what + " is no longer a regular file: run again");
      r = CopyFd(in, out.get(), what);
      r.mtime_sec = s.mtime_sec;
      r.mtime_nsec = s.mtime_nsec;
      ++stats_.attrs_updated;
    } else {
      r = src_.CopyTo(s, out.get());
      if (r.vanished) {  // deleted at the source since the listing: like rsync, go on without it
        ::unlinkat(dir->get(), tmp.c_str(), 0);
        pending_.pop_back();
        ++stats_.vanished;
        TheLog().warn(what + ": the source file vanished since the listing; not copied");
        return;
      }
      if (r.changed_since_listing) {
        ++stats_.changed_during_copy;
        TheLog().warn(what + " changed at the source while it was copied; the copy has what was read");
      } else {
        r.mtime_sec = s.mtime_sec;
        r.mtime_nsec = s.mtime_nsec;
      }
      ++stats_.files_written;
      stats_.bytes_written += r.size;
      pending_bytes_ += r.size;
    }
    if (HashFd(out.get(), what) != r.hash)
      Fail("the copy of " + what + " does not read back as written (content hash differs): "
           "check the target disk");
    ++stats_.hashes_checked;
    SetOwnerModeTimes(out.get(), s, r.mtime_sec, r.mtime_nsec, what);
    if (pending_.size() >= opts_.batch_files || pending_bytes_ >= opts_.batch_bytes) Flush();
  }

  void SetAttrsAt(int dir, const std::string& name, const Entry& s, const std::string& what) {
    if (opts_.set_owner && ::fchownat(dir, name.c_str(), s.uid, s.gid, AT_SYMLINK_NOFOLLOW) != 0)
      Fail("cannot set the owner of " + what + ": " + ErrnoString());
    // AT_SYMLINK_NOFOLLOW: should the name have become a symlink since, it fails, never follows.
    if (s.type != FileType::kSymlink && ::fchmodat(dir, name.c_str(), s.mode, AT_SYMLINK_NOFOLLOW) != 0)
      Fail("cannot set the mode of " + what + ": " + ErrnoString());
    struct timespec ts[2] = {Ts(0, UTIME_OMIT), Ts(s.mtime_sec, s.mtime_nsec)};
    if (::utimensat(dir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      Fail("cannot set the time of " + what + ": " + ErrnoString());
  }

  void DoLink(const Item& item, const DirFd& dir, const std::string& name) {
    const Entry& s = item.src;
    const std::string what = tree_.Show(s.path);
    if (AttrsInPlace(item)) {
      SetAttrsAt(dir->get(), name, s, what);
      ++stats_.attrs_updated;
      return;
    }
    std::string tmp = TempName();
    if (::symlinkat(s.link_target.c_str(), dir->get(), tmp.c_str()) != 0)
      Fail("cannot create the symlink " + what + ": " + ErrnoString());
    SetAttrsAt(dir->get(), tmp, s, what);
    RenameNow(dir->get(), tmp, name, what);
    ++stats_.links_written;
  }

  void DoSpecial(const Item& item, const DirFd& dir, const std::string& name) {
    const Entry& s = item.src;
    const std::string what = tree_.Show(s.path);
    if (AttrsInPlace(item)) {
      SetAttrsAt(dir->get(), name, s, what);
      ++stats_.attrs_updated;
      return;
    }
    mode_t type = SpecialModeBits(s.type);
    std::string tmp = TempName();
    if (::mknodat(dir->get(), tmp.c_str(), type | 0600, static_cast<dev_t>(s.rdev)) != 0) {
      if (errno == EPERM && (type == S_IFCHR || type == S_IFBLK)) {
        ++stats_.skipped_devices;
        TheLog().warn("skipping the device " + what + ": only root can create devices");
        return;
      }
      Fail("cannot create the " + std::string(TypeName(s.type)) + " " + what + ": " + ErrnoString());
    }
    SetAttrsAt(dir->get(), tmp, s, what);
    RenameNow(dir->get(), tmp, name, what);
    ++stats_.specials_written;
  }

  void RenameNow(int dir, const std::string& tmp, const std::string& name, const std::string& what) {
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
      int e = errno;
      ::unlinkat(dir, tmp.c_str(), 0);
      Fail("cannot put " + what + " in place: " + ErrnoString(e));
    }
  }

  // One syncfs makes a batch durable; only then do its files take their final names. That
  // happens on a background thread while the next batch is written; one batch at a time.
  // The folders closed before a batch get their attributes once its renames are done.
  void Flush(bool wait = false) {
    WaitFlush();  // the batch before is in place (or its error surfaces here)
    FinishDirs(flushed_dirs_);
    if (!pending_.empty()) {
      auto batch = std::make_shared<std::vector<Pending>>(std::move(pending_));
      pending_.clear();
      pending_bytes_ = 0;
      ++stats_.syncs;
      const int root = tree_.root_fd();
      const std::string root_name = tree_.Show("");
      flushing_ = std::async(std::launch::async, [batch, root, root_name] {
        size_t renamed = 0;
        try {
          if (::syncfs(root) != 0) Fail("cannot flush " + root_name + ": " + ErrnoString());
          for (; renamed < batch->size(); ++renamed) {
            const Pending& p = (*batch)[renamed];
            if (::renameat(p.dir->get(), p.tmp.c_str(), p.dir->get(), p.name.c_str()) != 0)
              Fail("cannot put " + p.name + " in place: " + ErrnoString());
          }
        } catch (const Error&) {  // what did not take its name goes (its room, on a full disk)
          for (size_t i = renamed; i < batch->size(); ++i)
            ::unlinkat((*batch)[i].dir->get(), (*batch)[i].tmp.c_str(), 0);
          throw;
        }
      });
      flushed_dirs_ = std::move(closed_);
    } else {
      FinishDirs(closed_);
    }
    closed_.clear();
    if (wait) {
      WaitFlush();
      FinishDirs(flushed_dirs_);
    }
  }

  void WaitFlush() {
    if (flushing_.valid()) flushing_.get();
  }

  // Writing into a folder changes its mtime: a changed folder gets the source's attributes,
  // an unchanged one we wrote into its own mtime back, as rsync does.
  // Not root, TargetTree gave folders on the way u+rwx to write into them: an unchanged one
  // gets its own mode back too.
  void FinishDirs(std::vector<OpenFolder>& dirs) {
    for (const auto& d : dirs) {
      if (d.action != Action::kSkip) {
        SetDirAttrs(d.src);
        continue;
      }
      if (!root_user_) RestoreDirMode(d.src);
      if (d.touched) RestoreDirTime(d.src);
    }
    dirs.clear();
  }

  void RestoreDirMode(const Entry& s) {
    struct stat st {};
    DirFd d = tree_.Dir(s.path);
    if (::fstat(d->get(), &st) == 0 && (st.st_mode & 07777) != s.mode && ::fchmod(d->get(), s.mode) != 0)
      Fail("cannot set the mode of " + tree_.Show(s.path) + ": " + ErrnoString());
  }

  void SetDirAttrs(const Entry& s) {
    DirFd d = tree_.Dir(s.path);
    SetOwnerModeTimes(d->get(), s, s.mtime_sec, s.mtime_nsec, tree_.Show(s.path));
  }

  void RestoreDirTime(const Entry& s) {
    DirFd d = tree_.Dir(s.path);
    struct timespec ts[2] = {Ts(0, UTIME_OMIT), Ts(s.mtime_sec, s.mtime_nsec)};
    if (::futimens(d->get(), ts) != 0) Fail("cannot set the time of " + tree_.Show(s.path) + ": " + ErrnoString());
  }


  Source& src_;
  ApplyOptions opts_;
  bool root_user_;
  TargetTree tree_;
  pid_t pid_;
  uint64_t seq_ = 0;
  std::vector<Pending> pending_;
  uint64_t pending_bytes_ = 0;
  std::future<void> flushing_;  // the batch being made durable and renamed
  std::vector<OpenFolder> open_;          // the current item's folder and its ancestors
  std::vector<OpenFolder> closed_;        // left by the walk, waiting for the next batch
  std::vector<OpenFolder> flushed_dirs_;  // closed before the batch being renamed
  ApplyStats stats_;
};

}  // namespace

MergeResult Merge(Source& src, const std::string& dst_root, const MergeOptions& o) {
  PlanOptions po;
  po.set_owner = ::geteuid() == 0;
  if (o.checksum) po.same_content = SameContentByHash(src, dst_root);
  std::unique_ptr<TreeStream> source = SelectedOf(src.Stream(o.checksum), o.only);
  std::unique_ptr<TreeStream> target = WalkTreeIfExists(dst_root, o.only);
  Planner planner(*source, *target, po);
  MergeResult r;
  Plan chunk;
  std::optional<Applier> a;  // made at the first chunk: its making creates a missing target
  try {
    while (planner.Next(chunk, o.chunk_items)) {
      if (o.on_chunk) o.on_chunk(chunk);
      if (o.dry_run) continue;
      // Chunks that change nothing go on while the source's listing still arrives (the
      // target's walk overlaps the source's).
      if (!chunk.ChangesNothing()) src.BeforeWriting();
      if (!a) a.emplace(src, dst_root, o.apply);
      a->ApplyChunk(chunk);
    }
    if (!o.dry_run && !a) a.emplace(src, dst_root, o.apply);
    if (a) r.stats = a->Finish();
  } catch (const Error&) {
    if (a) a->DropPending();  // give back the space of the unfinished batch (a full disk, say)
    throw;
  }
  r.totals = planner.totals();
  r.kept_sample = std::move(chunk.kept_sample);
  return r;
}

ApplyStats Apply(const Plan& plan, Source& src, const std::string& target_root,
                 const ApplyOptions& opts) {
  Applier a(src, target_root, opts);
  try {
    a.ApplyChunk(plan);
    return a.Finish();
  } catch (const Error&) {
    a.DropPending();
    throw;
  }
}

}  // namespace mig::sync
