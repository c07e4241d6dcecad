// The copy staged in the target's data directory on this host: the base backup unpacked and
// verified in this process, swapped in by renames (docs/physical-db.md "Staged on this host").
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <future>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
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
    struct stat owner {};
    if (::stat(home_.here.c_str(), &owner) != 0) Fail("cannot read " + home_.here + ": " + ErrnoString());
    uid_ = owner.st_uid;
    gid_ = owner.st_gid;
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
    const std::vector<std::string> problems = ManifestProblems(unpacked_.manifest, unpacked_.seen);
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

 private:
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
  std::future<int> synced_;  // syncfs's errno, 0 when it succeeded
};

}  // namespace

std::unique_ptr<ClusterStage> StageFor(const Postgres& dst, const ClusterHome& home) {
  if (!home.here.empty()) return std::make_unique<HostStage>(home);
  return StageInContainer(dst, home);
}

}  // namespace mig::db
