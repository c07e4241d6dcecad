// The restic program as the repository engine of backups (docs/backup.md): one call per verb,
// its --json output parsed, its failures turned into one sentence each.
#pragma once

#include <time.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/process.h"

namespace mig::restic {

// Where the repository is and how it is opened. Empty fields are left to restic's own
// environment (RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, RESTIC_PASSWORD_COMMAND, RESTIC_PASSWORD).
struct Repo {
  std::string location;       // a folder, sftp:user@host:/path, s3:http://host:port/bucket, rest:http://...
  std::string password_file;
  std::vector<std::string> options;  // restic -o KEY=VALUE (e.g. sftp.command=..., s3.region=...)
  std::string where() const;  // the location for messages
};

// restic's version ("restic 0.14.0 compiled with go1.19.8 on linux/amd64").
struct Version {
  int major = 0, minor = 0, patch = 0;
  bool at_least(int ma, int mi) const { return major > ma || (major == ma && minor >= mi); }
  std::string text() const;
};
std::optional<Version> ParseVersion(const std::string& out);

// One snapshot as `restic snapshots --json` lists it.
struct Snapshot {
  std::string id, short_id, time, hostname;
  std::vector<std::string> tags, paths;
  // The value of tag "<key>=<value>" ("" when absent).
  std::string tag(const std::string& key) const;
};
std::vector<Snapshot> ParseSnapshots(const std::string& json);

// One node of a snapshot's tree as `restic ls --json` prints it (restic 0.14: no link targets, no
// owner names).
struct LsNode {
  std::string path;  // "/data/sub/a"
  std::string type;  // "file", "dir", "symlink", "fifo", "dev", "chardev", "socket", "irregular"
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  uint32_t perm = 0;  // permission bits with setuid, setgid and sticky (07777)
  struct timespec mtime {}, atime {};
};
// One line of `restic ls --json`: the node, or nullopt for the snapshot's own line. Throws
// mig::Error for a line that is neither.
std::optional<LsNode> ParseLsLine(const std::string& line);
// An RFC 3339 time as restic writes them ("2020-01-02T03:04:05.123456789Z", "...+01:00"), to the
// nanosecond; throws mig::Error when it is not one.
struct timespec ParseTime(const std::string& text);

// The last message of `restic backup --json`.
struct BackupSummary {
  uint64_t files_new = 0, files_changed = 0, files_unmodified = 0;
  uint64_t total_files = 0, total_bytes = 0, data_added = 0;
  double seconds = 0;
  std::string snapshot_id;
};
// restic's status messages while it works.
struct BackupStatus {
  double fraction = 0;  // 0..1
  uint64_t bytes_done = 0, total_bytes = 0, files_done = 0, total_files = 0;
};
// One line of `restic backup --json` output: a status (returns it in `status`), the summary
// (in `summary`), or something else (false for both).
void ParseBackupLine(const std::string& line, std::optional<BackupStatus>& status,
                     std::optional<BackupSummary>& summary);

// What restic's stderr says went wrong, for the sentence and the exit code.
enum class Failure { kOther, kNoRepository, kWrongPassword, kLocked, kUnreachable, kNoPassword };
struct Diagnosis {
  Failure kind = Failure::kOther;
  std::string detail;  // restic's own words (its "Fatal:" line, or the lock's holder)
};
Diagnosis Diagnose(const std::string& err);
// Throws mig::Error with one sentence for a failed restic `what` ("list the snapshots"); a
// NoRepository for a repository that does not exist.
[[noreturn]] void Throw(const Diagnosis& d, const Repo& repo, const std::string& what);

// There is no repository at the location (bad input: exit 2). A caller that makes one when
// there is none (backup create) catches it.
class NoRepository : public Error {
 public:
  explicit NoRepository(const std::string& message) : Error(ErrorKind::kInput, message) {}
};

// `restic backup` could not read every file (its exit 3): restic wrote snapshot `snapshot_id`
// all the same, without those files.
class IncompleteBackup : public Error {
 public:
  IncompleteBackup(const std::string& message, std::string snapshot_id)
      : Error(ErrorKind::kFailed, message), snapshot_id(std::move(snapshot_id)) {}
  std::string snapshot_id;
};

// Options of one snapshot written by Backup / BackupStdin.
struct SnapshotMeta {
  std::vector<std::string> tags;
  std::string time;      // "2026-11-30 21:00:00" (restic --time), "" for now
  std::string hostname;  // "" for restic's default
};

// A `restic backup --stdin` in progress: write its bytes, then Finish.
class StdinBackup {
 public:
  virtual ~StdinBackup() = default;
  // Throws mig::Error when restic has gone (Finish then says why).
  virtual void write(const char* buf, size_t len) = 0;
  // Closes its input and waits: the summary, or mig::Error naming restic's failure.
  virtual BackupSummary Finish() = 0;
  // Stops it without a snapshot (the stream's producer failed).
  virtual void Abort() = 0;
};

// The restic program against one repository. Calls are independent: several may run at once
// from different threads (restic's own locks keep the repository consistent).
class Restic {
 public:
  explicit Restic(Repo repo, const Host& host = ThisHost());
  const Repo& repo() const { return repo_; }

  // restic's version (asked once). Throws when restic is not installed.
  const Version& version() const;
  // Whether the repository exists (restic cat config); throws for a wrong password or an
  // unreachable backend.
  bool Initialized() const;
  void Init() const;
  // Snapshots carrying every tag in `tags`.
  std::vector<Snapshot> Snapshots(const std::vector<std::string>& tags) const;
  // The same, or nullopt when there is no repository yet (one restic call for both questions).
  std::optional<std::vector<Snapshot>> SnapshotsIfAny(const std::vector<std::string>& tags) const;
  // `restic backup` of `paths` (relative to `dir`, so that the snapshot's tree starts there),
  // without the `excludes` (exact paths relative to `dir`, matched as restic's absolute
  // patterns with glob characters escaped); locks handled as Call handles them. An exception
  // thrown by `progress` stops restic (no snapshot, unless it had written it already). Throws
  // IncompleteBackup when restic could not read every file (it wrote a snapshot without them).
  BackupSummary Backup(const std::string& dir, const std::vector<std::string>& paths, const SnapshotMeta& meta,
                       const std::vector<std::string>& excludes,
                       const std::function<void(const BackupStatus&)>& progress = {}) const;
  // `restic backup --stdin --stdin-filename NAME`, started at once. Bytes written before restic
  // is ready to read (it holds its lock and has read the index) are held (up to 32 MiB; a write
  // beyond waits for it), and a restic that ends before it read anything is started again on a
  // lock (handled as Call handles it) and, after `make_repository` made it, on a missing
  // repository: a producer that cannot be replayed (a dump) starts at once and is never lost
  // to them. Use it from one thread that outlives the backup (restic is killed when the thread
  // that started it ends).
  std::unique_ptr<StdinBackup> BackupStdin(const std::string& name, const SnapshotMeta& meta,
                                           std::function<void()> make_repository = {}) const;
  // `restic dump SNAPSHOT PATH`: the file's bytes on the Proc's stdout (a folder's: a tar).
  std::unique_ptr<Proc> Dump(const std::string& snapshot, const std::string& path) const;
  // `restic ls --json SNAPSHOT`: its lines (ParseLsLine) on the Proc's stdout, the tree walked in
  // the order Dump writes it.
  std::unique_ptr<Proc> Ls(const std::string& snapshot) const;
  // `restic restore SNAPSHOT --target DIR --include ... --exclude ... --verify` (and --sparse
  // where restic has it, 0.15 on): files written with their owners, modes and times, each read
  // back and compared with the snapshot. `includes` or `excludes`, not both (restic 0.14).
  void Restore(const std::string& snapshot, const std::string& target, const std::vector<std::string>& includes,
               const std::vector<std::string>& excludes) const;
  // `restic forget ID...` (and --prune).
  void Forget(const std::vector<std::string>& ids, bool prune) const;
  // `restic check` (--read-data): "" when it found nothing wrong, else what it said.
  std::string Check(bool read_data) const;
  // `restic unlock`: removes only stale locks (of dead processes on this host, or not refreshed
  // for 30 minutes); never throws (a missing repository has none).
  void UnlockStale() const;
  // `restic key passwd --new-password-file FILE`.
  void ChangePassword(const std::string& new_password_file) const;

  // restic's argv: the program, the repository options, then `args`.
  std::vector<std::string> Argv(const std::vector<std::string>& args) const;
  // Runs restic with `args`; on "repository is locked" clears stale locks once (restic unlock
  // removes only locks of dead processes or older than 30 minutes) and tries again. Throws
  // mig::Error (Throw) when it fails, naming `what`.
  ProcResult Call(const std::vector<std::string>& args, const std::string& what,
                  std::chrono::seconds timeout = std::chrono::seconds(0)) const;

 private:
  // After restic failed on a lock: whether to try again (stale locks cleared the first time, a
  // live lock waited for up to 30 s).
  bool AgainAfterLock(const Diagnosis& d, int attempt) const;
  Repo repo_;
  const Host* host_;
  mutable std::optional<Version> version_;
};

// The restic arguments for a snapshot's tags, time and host.
std::vector<std::string> MetaArgs(const SnapshotMeta& meta);

}  // namespace mig::restic
