// The copy staged in the target's data directory on this host: the base backup unpacked and
// verified in this process, swapped in by renames (docs/physical-db.md "Staged on this host");
// or, where the source's data directory is here too on the same file system, written there by
// the source's pg_basebackup as files and moved over by renames ("Both clusters on this host").
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "core/files.h"
#include "core/log.h"
#include "core/text.h"
#include "db/cluster_files.h"
#include "db/stage.h"

namespace mig::db {

namespace {

class HostStage : public ClusterStage {
 public:
  explicit HostStage(const ClusterHome& home) : home_(home), stage_(home.here + "/" + kStageName) {}

  uint64_t Fill(const Postgres& src, const std::function<void(uint64_t)>& progress) override {
    TakeOwner();
    // zstd where the source's pg_basebackup has it (it says at once when it has not).
    std::vector<std::string> methods = {"client-gzip:1"};
    if (UnpacksZstd()) methods.insert(methods.begin(), "client-zstd:1");
    for (const std::string& method : methods) {
      Clear();
      if (::mkdir(stage_.c_str(), 0700) != 0 || ::chown(stage_.c_str(), uid_, gid_) != 0)
        Fail("cannot make the stage " + stage_ + ": " + ErrnoString());
      compression_ = method.substr(7, 4);
      auto out = src.dump_host().Start(BaseBackupArgv(src, method), Proc::kStdout);
      std::string unpack_error;
      uint64_t crossed = 0;
      try {
        unpacked_ = UnpackTar(*out, stage_, uid_, gid_, [&](uint64_t b) {
          crossed = b;
          if (progress) progress(b);
        });
      } catch (const Error& e) {
        unpack_error = e.what();
        out->kill();
      }
      const int code = out->wait();
      const std::string err = TrimEnd(out->err_text());
      if (code == 0 && unpack_error.empty()) {
        StartSync();
        return unpacked_.bytes_in;
      }
      // "this build does not support compression with ZSTD"
      if (compression_ == "zstd" && Lower(err).find("zstd") != std::string::npos && crossed == 0) continue;
      // This side's own failure (a full disk) first: pg_basebackup then only says its pipe broke.
      const bool stream_broke = unpack_error.empty() || unpack_error.find("tar stream") != std::string::npos;
      if (code != 0 && !err.empty() && stream_broke) Fail("pg_basebackup of the source failed: " + err);
      Fail("unpacking the source's base backup into " + stage_ + " failed: " +
           (unpack_error.empty() ? "pg_basebackup ended with code " + std::to_string(code) : unpack_error));
    }
    Fail("internal: no compression left to ask pg_basebackup for");
  }
  void Verify() override {
    const std::vector<std::string> problems = ManifestProblems(unpacked_.manifest, unpacked_.seen, sizes_only_);
    if (!problems.empty())
      Fail("the copy of the source's cluster does not verify against its manifest: " + Joined(problems, "; "));
  }
  void Prepare(bool standby) override { standby_ = standby; }
  Swapped Swap(std::string& why) override {
    if (const int err = WaitSynced()) {  // the copy on disk before it is swapped in
      why = "cannot sync the staged copy in " + stage_ + ": " + ErrnoString(err);
      return Swapped::kRefused;
    }
    return SwapStagedCluster(home_.here, standby_, home_.pgdata + "/migrate-wal", why) ? Swapped::kDone
                                                                                        : Swapped::kRefused;
  }
  void Finish() override { Remove(home_.here + "/" + kSetAsideName); }
  void Drop() override {
    WaitSynced();
    Clear();
  }
  std::string compression() const override { return compression_; }

 protected:
  void TakeOwner() {
    struct stat owner {};
    if (::stat(home_.here.c_str(), &owner) != 0) Fail("cannot read " + home_.here + ": " + ErrnoString());
    uid_ = owner.st_uid;
    gid_ = owner.st_gid;
  }
  void Clear() { Remove(stage_); }
  // The staged files written to disk on a thread while the copy is verified and the target
  // stops: postgres's start fsyncs every file of a copy it recovers, which then finds them
  // written (the downtime does not wait for the page cache).
  void StartSync() {
    Fd fd(::open(stage_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return;
    synced_ = std::async(std::launch::async, [fd = std::move(fd)] { return ::syncfs(fd.get()) == 0 ? 0 : errno; });
  }
  int WaitSynced() { return synced_.valid() ? synced_.get() : 0; }
  static void Remove(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) TheLog().warn("could not remove " + path + ": " + ec.message());
  }
  const ClusterHome& home_;
  std::string stage_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool standby_ = false;
  std::string compression_ = "gzip";
  UnpackResult unpacked_;
  bool sizes_only_ = false;  // unpacked_ has no checksums (MovePlainBackup)
  std::future<int> synced_;  // syncfs's errno, 0 when it succeeded
};

// Both data directories on this host, on one file system: the source's pg_basebackup writes the
// copy as files into its own data directory, under a name its server's base backups skip
// (pgsql_tmp...), and its files are moved into folders made anew in the target's by renames:
// nothing compressed, relayed, unpacked or read again. They are given PGDATA's owner and checked
// against the manifest by their sizes (nothing crossed a relay that could damage them).
class SameHostStage : public HostStage {
 public:
  SameHostStage(const ClusterHome& home, const ClusterHome& source)
      : HostStage(home),
        source_(source),
        name_(std::string(kPlainCopyPrefix) + std::to_string(::getpid())),
        written_(source.here + "/" + name_) {}

  uint64_t Fill(const Postgres& src, const std::function<void(uint64_t)>& progress) override {
    TakeOwner();
    Clear();
    RemoveAbandonedPlainCopies(source_.here);
    RemoveWritten();  // one of this pid's, left by an earlier run that had it
    compression_ = "none";
    sizes_only_ = true;
    ProcResult r;
    {
      WriteBehind behind(written_, source_.here, progress);
      r = src.dump_host().Run(PlainBaseBackupArgv(src, source_.pgdata + "/" + name_));
    }
    if (!r.ok()) {
      RemoveWritten();
      Fail("pg_basebackup of the source failed: " + r.last_error_line());
    }
    try {
      unpacked_ = MovePlainBackup(written_, stage_, uid_, gid_);
    } catch (const Error&) {
      RemoveWritten();
      Clear();
      throw;
    }
    StartSync();
    return unpacked_.bytes_out;
  }
  void Drop() override {
    HostStage::Drop();
    RemoveWritten();
  }

 private:
  // The folder in the source's data directory (which its container may change meanwhile: removed
  // through descriptors, never through a link), best effort.
  void RemoveWritten() { RemoveBeneath(source_.here, name_); }
  // While pg_basebackup writes into `dir` (its files not synced: --no-sync): every quarter of a
  // second, on a thread until destroyed, the file system's writes started (syncfs), so that the
  // disk takes them while the copy goes on rather than at the swap, and `progress` told the size
  // of `dir` so far.
  class WriteBehind {
   public:
    WriteBehind(const std::string& dir, const std::string& fs_folder, const std::function<void(uint64_t)>& progress)
        : fs_(::open(fs_folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
      thread_ = std::thread([this, dir, progress] {
        std::unique_lock<std::mutex> lock(mu_);
        while (!cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return done_; })) {
          lock.unlock();
          if (fs_.valid()) ::syncfs(fs_.get());  // best effort: the swap waits for a last one
          try {
            if (progress) progress(MeasureTree(dir).bytes);
          } catch (...) {  // a progress line that failed is no reason to stop a copy
          }
          lock.lock();
        }
      });
    }
    ~WriteBehind() {
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_ = true;
      }
      cv_.notify_all();
      thread_.join();
    }

   private:
    Fd fs_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::thread thread_;
  };

  const ClusterHome& source_;
  std::string name_;     // the copy's folder in the source's data directory
  std::string written_;  // that folder here
};

// Whether a folder made in `a` can be renamed into `b` (one mount: the copy's files will be).
bool RenamesBetween(const std::string& a, const std::string& b) {
  const std::string probe = std::string(kPlainCopyPrefix) + std::to_string(::getpid()) + ".probe";
  if (::mkdir((a + "/" + probe).c_str(), 0700) != 0) return false;
  const bool moved = ::rename((a + "/" + probe).c_str(), (b + "/" + probe).c_str()) == 0;
  ::rmdir(((moved ? b : a) + "/" + probe).c_str());
  return moved;
}

}  // namespace

std::vector<std::string> PlainBaseBackupArgv(const Postgres& pg, const std::string& dir) {
  return pg.Tool("pg_basebackup", {"-D", dir, "-F", "plain", "-X", "fetch", "-c", "fast", "--no-sync", "--label=migrate"});
}

void RemoveAbandonedPlainCopies(const std::string& folder) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(folder, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(kPlainCopyPrefix, 0) != 0) continue;
    const std::string pid = n.substr(std::string(kPlainCopyPrefix).size());
    if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (::kill(std::stoi(pid), 0) == 0 || errno == EPERM) continue;  // its run is still alive
    RemoveBeneath(folder, n);
  }
}

bool PlainCopyCanBeMoved(const ClusterHome& source, const ClusterHome& target) {
  const char* knob = std::getenv("MIGRATE_PHYSICAL_AS_FILES");  // 0: streamed and unpacked (tests run both)
  if (knob && std::string(knob) == "0") return false;
  if (source.here.empty() || target.here.empty() || !RenamesBetween(source.here, target.here)) return false;
  // A tablespace's files are not beneath PGDATA: pg_basebackup -Fp would write them at their
  // own paths.
  std::error_code ec;
  return std::filesystem::is_empty(source.here + "/pg_tblspc", ec) && !ec;
}

std::unique_ptr<ClusterStage> StageFor(const Postgres& dst, const ClusterHome& home, const ClusterHome* source) {
  if (source) return std::make_unique<SameHostStage>(home, *source);
  if (!home.here.empty()) return std::make_unique<HostStage>(home);
  return StageInContainer(dst, home);
}

}  // namespace mig::db
