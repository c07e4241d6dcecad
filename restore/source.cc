#include "restore/source.h"

#include <filesystem>
#include <future>

#include "backup/archive.h"
#include "backup/catalog.h"
#include "backup/create.h"
#include "backup/repo_dump.h"
#include "core/error.h"
#include "core/job_lock.h"
#include "install/install.h"

namespace fs = std::filesystem;

namespace mig {

void RestoreSource::MergeData(const Install&, bool, Report&) {
  Fail("internal error: a backup's data/ replaces the install's, it is not merged");
}

namespace {

class RepoSource : public RestoreSource {
 public:
  RepoSource(const restic::Repo& repo, const std::string& which, const std::string& dir, const std::string& project)
      : repo_(repo) {
    // A stale lock would stop `restic restore`: cleared beside the listing.
    auto unlocking = std::async(std::launch::async, [this] { repo_.UnlockStale(); });
    auto snaps = repo_.SnapshotsIfAny({backup::kTag});
    unlocking.wait();
    if (!snaps) BadInput("there is no restic repository at " + repo_.repo().where());
    auto holder = JobLock::Holder(JobLockPath(dir));
    auto all = backup::Group(*snaps, holder ? backup::ParseRunning(*holder) : std::nullopt);
    const bool latest = which.empty() || which == "latest";
    if (latest && !project.empty()) all = backup::OfProject(all, project);  // an ID names any install's
    entry_ = backup::Resolve(all, which.empty() ? "latest" : which);
    if (entry_.status != "ready")
      BadInput("backup " + entry_.timestamp + " (" + entry_.id + ") is " + entry_.status +
               ": only a ready backup is restored (migrate backup list)");
    m_ = backup::ReadManifest(repo_, entry_);
  }
  std::string Describe() const override {
    return "backup " + entry_.timestamp + " (" + entry_.id + ") in " + repo_.repo().where();
  }
  const backup::Manifest& manifest() const override { return m_; }
  void Config(const std::string& dir, const std::vector<std::string>& files) override {
    std::vector<std::string> includes;
    for (const auto& f : files) includes.push_back("/" + f);
    if (!includes.empty()) repo_.Restore(m_.files_snapshot, dir, includes, {});
  }
  void Data(const std::string& work_dir, const std::vector<std::string>& skip) override {
    if (skip.empty()) {
      repo_.Restore(m_.files_snapshot, work_dir, {"/data"}, {});
      return;
    }
    // restic before 0.17 takes no --include with --exclude: the other top-level names excluded.
    std::vector<std::string> excludes;
    for (const auto& k : skip) excludes.push_back("/data/" + k);
    for (const auto& o : m_.config) excludes.push_back("/" + o);
    excludes.push_back("/backup");  // the manifest (format 2)
    repo_.Restore(m_.files_snapshot, work_dir, {}, excludes);
  }
  std::unique_ptr<db::DumpSource> Dump() override { return std::make_unique<backup::RepoDump>(repo_, m_); }
  std::unique_ptr<Proc> Volume(const backup::SwarmPart::Volume& v) override {
    return repo_.Dump(v.snapshot, "/" + v.name + ".tar");
  }

 private:
  restic::Restic repo_;
  backup::Entry entry_;
  backup::Manifest m_;
};

class FileSource : public RestoreSource {
 public:
  explicit FileSource(std::string path) : path_(std::move(path)) { m_ = backup::VerifyArchive(path_); }
  std::string Describe() const override { return "the backup file " + path_ + " (" + m_.timestamp + ")"; }
  const backup::Manifest& manifest() const override { return m_; }
  void Config(const std::string& dir, const std::vector<std::string>& files) override {
    std::vector<std::string> skip;  // every config member not asked for
    for (const auto& f : m_.config)
      if (std::find(files.begin(), files.end(), f) == files.end()) skip.push_back(f);
    backup::ExtractArchive(path_, "config/", dir, skip);
  }
  void Data(const std::string& work_dir, const std::vector<std::string>& skip) override {
    backup::ExtractArchive(path_, "data/", work_dir + "/data", skip);
  }
  std::unique_ptr<db::DumpSource> Dump() override { return std::make_unique<backup::ArchiveDump>(path_, m_); }
  std::unique_ptr<Proc> Volume(const backup::SwarmPart::Volume& v) override {
    return std::make_unique<backup::ArchiveMember>(path_, backup::VolumeMember(v), v.bytes);
  }

 private:
  std::string path_;
  backup::Manifest m_;
};

}  // namespace

bool NamesFile(const std::string& which) {
  std::error_code ec;
  return which.find('/') != std::string::npos || (which.size() > 4 && which.substr(which.size() - 4) == ".tar") ||
         fs::is_regular_file(which, ec);
}

std::unique_ptr<RestoreSource> FromRepository(const restic::Repo& repo, const std::string& which,
                                              const std::string& install_dir, const std::string& project) {
  return std::make_unique<RepoSource>(repo, which, install_dir, project);
}

std::unique_ptr<RestoreSource> FromFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) BadInput("no backup file " + path + " (a file exported by migrate backup export)");
  return std::make_unique<FileSource>(fs::absolute(path).string());
}

}  // namespace mig
