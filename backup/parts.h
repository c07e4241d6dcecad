// The parts of `backup create` written beside each other (docs/backup.md "backup create:
// steps"): the database's dump and a Swarm's volumes, each streamed into a `restic backup
// --stdin` of its own, with one progress line. Internal to backup/create.cc.
#pragma once

#include <atomic>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backup/manifest.h"
#include "core/progress.h"
#include "db/dump.h"
#include "db/postgres.h"
#include "docker/docker.h"
#include "install/install.h"
#include "restic/restic.h"

namespace mig::backup {

// Stops again the database a backup started (when it was down), on every way out.
struct StopDbAgain {
  const docker::Stack& stack;
  std::string service;
  bool started = false;
  ~StopDbAgain();
};

// Progress of the parts written at once, shown as one. Thread-safe.
class SharedProgress {
 public:
  explicit SharedProgress(ProgressMode mode) : p_("backup", 0, mode) {}
  void Files(const restic::BackupStatus& st);
  void Dump(uint64_t bytes);
  void Done();

 private:
  void Show();
  std::mutex mu_;
  Progress p_;
  restic::BackupStatus files_;
  uint64_t dump_ = 0;
};

// The database side of a backup, opened while the repository is asked: the exported snapshot
// the dump and the counts will read, the roles, locale and major version.
struct OpenDb {
  db::Postgres pg;
  db::LiveDump dump;
  DbPart part;
  // `host`: where its container runs (a Swarm node over SSH), nullptr for this machine.
  // `started`: a session to the install's database in that container started ahead (on a
  // db::Postgres of DbTarget(in, container, host) that outlives this), or nullptr.
  OpenDb(const Install& in, const std::string& container, const Host* host = nullptr,
         std::unique_ptr<db::OpeningSession> started = nullptr);
};

// The install's database in `container` (on `host`, nullptr: this machine), as a backup reads it.
db::PgTarget DbTarget(const Install& in, const std::string& container, const Host* host = nullptr);

// The database part: pg_dump in the container, streamed into a `restic backup --stdin` that
// is ready to read. Never leaves a snapshot of a dump cut short.
DbPart BackupDatabase(OpenDb& d, restic::StdinBackup& out, SharedProgress& progress);

// Makes the repository when a part's restic finds none (once, whichever part meets it first):
// `backup create` has no listing of the repository before its parts (docs/backup.md).
// Thread-safe.
class RepositoryOnDemand {
 public:
  explicit RepositoryOnDemand(const restic::Restic& repo) : repo_(repo) {}
  // Runs `call`; when restic says there is no repository, makes it and runs `call` again.
  template <typename F>
  auto Run(F call) {
    try {
      return call();
    } catch (const restic::NoRepository&) {
      Make();
    }
    return call();
  }
  // Makes it (once; a repository made meanwhile by another run is fine).
  void Make();

 private:
  const restic::Restic& repo_;
  std::mutex mu_;
  bool made_ = false;
};

// The parts written before data/'s, each on a thread of its own that outlives its restic: the
// database (a `restic backup --stdin` started at once, fed once Go hands it the open database)
// and a Swarm's volumes (started at Go). The caller's thread calls every method.
class StreamParts {
 public:
  StreamParts(const restic::Restic& repo, RepositoryOnDemand& made, const Manifest& m, SharedProgress& progress)
      : repo_(repo), made_(made), id_(m.id), ts_(m.timestamp), project_(m.project), host_(m.host),
        progress_(progress) {}
  ~StreamParts() { Stop(); }

  void StartDb();
  // A Swarm volume (docs/swarm.md): `tar` of `dir` on `host` into a `restic backup --stdin`
  // of its own. Call after Go.
  void StartVolume(const Host& host, const std::string& dir, const SwarmPart::Volume& v);
  // The database is open (or there is none: nullptr): the dump starts.
  void Go(OpenDb* d) { Release({true, d}); }
  // Waits for every part.
  void Join();
  // Stops every part before it wrote anything it was not told to.
  void Stop() {
    cancel_ = true;
    Join();
  }
  // The parts' results into the manifest; returns the first error (null when every part
  // ended well).
  std::exception_ptr Fill(Manifest& m) const;

 private:
  // Whether the parts go on (go), and the open database the dump reads (none: no database part).
  struct GoSignal {
    bool go = false;
    OpenDb* db = nullptr;
  };
  struct VolumeRun {
    std::thread thread;
    uint64_t bytes = 0;
    std::string snapshot;
    std::exception_ptr error;
  };
  restic::SnapshotMeta Meta(const char* part) const;
  void Release(GoSignal g);

  const restic::Restic& repo_;
  RepositoryOnDemand& made_;
  std::string id_, ts_, project_, host_;
  SharedProgress& progress_;
  std::atomic<bool> cancel_{false};
  std::promise<GoSignal> go_promise_;
  std::shared_future<GoSignal> go_ = go_promise_.get_future().share();
  bool released_ = false, has_db_ = false;
  std::thread db_;
  std::vector<std::unique_ptr<VolumeRun>> volumes_;
  DbPart db_part_;
  std::exception_ptr db_error_;
};

}  // namespace mig::backup
