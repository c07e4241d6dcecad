// The physical database path (docs/physical-db.md): a whole postgres cluster copied as its files
// (pg_basebackup), staged and verified in the target's container, swapped in while it is stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "db/postgres.h"

namespace mig::db {

// --db-method, and what a run chose.
enum class DbMethod { kLogical, kPhysical, kAuto };
// "logical" / "physical" / "auto"; throws mig::Error (usage) for anything else.
DbMethod ParseDbMethod(const std::string& s);
std::string DbMethodName(DbMethod m);

// What ChooseDbMethod looks at: plain values, found by the preflight.
struct PhysicalFacts {
  int src_major = 0, dst_major = 0;
  bool src_can_back_up = false;          // the source's user is a superuser or has REPLICATION
  std::string src_db, dst_db;            // the databases of the two .env files
  std::vector<std::string> src_databases;  // every database of the source's cluster
  std::string dst_home_problem;            // why the target's cluster cannot be swapped (FindClusterHome)
};

struct DbMethodChoice {
  DbMethod method = DbMethod::kLogical;  // never kAuto
  std::string why;                       // one clause: why this method ("same major version 15, ...")
};

// The first major version whose pg_basebackup compresses on the client (--compress=client-gzip).
constexpr int kPhysicalMinMajor = 15;

// The method a run uses. `requested` kPhysical that cannot be done throws mig::Error (input)
// naming why; kAuto falls back to logical with the reason in `why`.
DbMethodChoice ChooseDbMethod(DbMethod requested, const PhysicalFacts& f);

// --two-phase (docs/cutover.md): without --db-method (`given` false), the standby when it can be,
// the dump inside the downtime across major versions, and bad input for any other reason the
// standby cannot be (the operator's to mend: the downtime would grow with the database unasked);
// with --db-method, as ChooseDbMethod.
DbMethodChoice ChooseTwoPhaseMethod(DbMethod requested, bool given, const PhysicalFacts& f);

// Where a cluster lives in its container.
struct ClusterHome {
  std::string container;
  std::string image;   // the container's image (the helper of the swap runs it)
  std::string pgdata;  // the server's data_directory inside the container
  // Where pgdata's mount says it is on the engine's host (docker inspect's Mounts[].Source);
  // "" when it is on no mount.
  std::string mount_folder;
  // That folder when the copy is staged and swapped on this host (ClusterFolderHere), else "".
  std::string here;
};

// Reads the container's image and its server's data_directory. `problem` says why a copy could
// not be swapped in there ("" when it can): the data directory must be on a volume or bind mount
// (a helper container sees it) and not a mount's parent. Throws mig::Error when docker or the
// server cannot be asked.
ClusterHome FindClusterHome(const Postgres& pg, std::string& problem);
// Why `pgdata` cannot be swapped given the container's mount destinations ("" when it can).
std::string PgdataProblem(const std::string& pgdata, const std::vector<std::string>& mounts);
// home.mount_folder when the copy may be staged and swapped there, from this process
// (docs/physical-db.md "Staged on this host"): REQUIRES the engine be this machine's (the
// caller knows: docker::api::SocketFor); this process root, the folder the running server's
// (its PG_VERSION, its postmaster.pid naming pgdata), MIGRATE_PHYSICAL_ON_HOST not 0. Else "".
std::string ClusterFolderHere(const ClusterHome& home);

// Waits (at most 30 s) for the postmaster.pid in `folder` (a data directory on this host) to
// say that its server takes connections ("ready", or "standby" for a hot standby when
// `standby`): a file read every 20 ms rather than a probe through docker exec every 0.4 s.
// Returns early, false, when the file went away after it appeared (the server stopped) or did
// not appear within 3 s (it did not start); the caller's probe then says why.
bool PidFileSaysReady(const std::string& folder, bool standby);

// pg_basebackup of the whole cluster as one tar on stdout, compressed by `compress`
// ("client-gzip:1", "client-zstd:1"), its WAL and backup_manifest inside (docker exec in pg's
// container, as pg's user).
std::vector<std::string> BaseBackupArgv(const Postgres& pg, const std::string& compress = "client-gzip:1");

// Both clusters on this host (docs/physical-db.md "Both clusters on this host"): the source's
// pg_basebackup writes the copy as files into `dir`, a folder of its own data directory named
// kPlainCopyPrefix + this process's pid (its server's base backups skip such names).
inline constexpr const char* kPlainCopyPrefix = "pgsql_tmp_migrate_copy_";
std::vector<std::string> PlainBaseBackupArgv(const Postgres& pg, const std::string& dir);
// Whether such a copy can be moved from the source's folder into the target's by a rename: both
// here (ClusterHome::here), on one file system, the source without tablespaces, and
// MIGRATE_PHYSICAL_AS_FILES not 0.
bool PlainCopyCanBeMoved(const ClusterHome& source, const ClusterHome& target);
// Removes from `folder` (a source's data directory here) the copies that runs no longer alive
// left there (killed).
void RemoveAbandonedPlainCopies(const std::string& folder);

// A base backup of `pg`, taken while it runs, written to `path` (fsynced): the physical path's
// safety copy of the target. Returns its size.
uint64_t BaseBackupToFile(const Postgres& pg, const std::string& path);

// The shell command that puts a BaseBackupToFile() file back as the cluster of `home`'s
// container (stop, replace PGDATA, start): the roll back printed in reports.
std::string RestoreClusterCommand(const ClusterHome& home, const std::string& file);

// What tells whether the source was written between two moments without counting it (read in
// a session, assigning no transaction id): its current snapshot (pg_current_snapshot: the next
// transaction id and those in progress; any transaction that wrote since, in any of the
// cluster's databases, changes it) and its database's sequences (nextval assigns no id).
struct SourceMark {
  std::string snapshot;
  std::map<std::string, std::string> sequences;
};
// Whether the source was written between `before` (unknown: nullopt, then not said written) and
// `after`.
bool WrittenMeanwhile(const std::optional<SourceMark>& before, const SourceMark& after);

struct CopyClusterOptions {
  std::function<void(uint64_t bytes)> progress;  // bytes relayed (compressed) or written as files so far
  // Called once the copy is staged and verified, before the swap: a throw stops the copy with
  // the target as it was (a target stopped while the copy was staged on this host is started
  // again).
  std::function<void()> before_swap;
  // The two-phase cutover (docs/cutover.md): the copy starts as a standby that replays the WAL a
  // WalShipper brings; the source keeps its WAL in the replication slot `slot` (made here, kept
  // until DropSlot). CopyCluster then returns once the standby answers: no credentials, no counts
  // (PromoteStandby and ReapplyCredentials, then the cutover's own count, do those).
  bool as_standby = false;
  std::string slot = "migrate_cutover";
  // The source's cluster, when its folder is here too and PlainCopyCanBeMoved said so (the caller
  // asks: the preflight's plan): the copy is then written there as files and moved over.
  // Outlives the call.
  const ClusterHome* source_home = nullptr;
  // A session to the source's database opened ahead (its login overlapped earlier steps): the
  // source's WAL is held in it for the copy. May be null; the caller keeps it alive.
  OpeningSession* session_ahead = nullptr;
};

struct CopyClusterResult {
  uint64_t bytes = 0;                   // the base backup's bytes relayed (compressed), or written as files
  DbState source, target;               // counted after the backup, and in the started copy
  bool source_changed = false;          // the source was written during the copy (its snapshot or sequences moved)
  std::vector<std::string> mismatches;  // source vs target, empty when equal
  std::vector<std::pair<std::string, double>> timings;  // "base_backup", "verify", "swap", ...
  std::string compression;              // how the base backup crossed: "gzip", "zstd", "none" (as files)
  bool on_host = false;                 // staged and swapped on this host (ClusterHome::here)
};

// Copies `src`'s cluster into `dst`'s container (`home`), re-applies dst's credentials and
// database name, and verifies the rows and sequences. Throws mig::Error naming the step; before
// the swap the target is untouched (its stage removed).
CopyClusterResult CopyCluster(const Postgres& src, const Postgres& dst, const ClusterHome& home,
                              const CopyClusterOptions& opts);

// The WAL of a source whose cluster CopyCluster(as_standby) copied, shipped to the standby's
// PGDATA/migrate-wal (its restore_command) in rounds while the source serves, and a last time once
// it is stopped. Not thread-safe, except that Follow's rounds run on a thread of their own until
// StopFollowing (nothing else may be called between the two).
class WalShipper {
 public:
  // `src_home`: the source's container (the last round reads its stopped cluster through a helper
  // container); `dst_home`: the standby's.
  WalShipper(const Postgres& src, ClusterHome src_home, const Postgres& dst, ClusterHome dst_home, std::string slot);
  ~WalShipper();
  WalShipper(const WalShipper&) = delete;
  WalShipper& operator=(const WalShipper&) = delete;
  // Ships the source's completed segments not yet shipped (the source running); returns how many.
  size_t Round();
  // Rounds on a thread of its own, one every `pause` after the last, so that the WAL left when the
  // source stops is a segment or two (docs/cutover.md). REQUIRES the source's and the standby's
  // hosts be safe to use from another thread (the cutover gives it Origin::ConcurrentHost). A
  // failed round is a warning: the next one, or Final, ships what it did not.
  void Follow(std::chrono::milliseconds pause);
  // Ends Follow's thread after its round in flight (nothing when it does not run).
  void StopFollowing();
  // The source's postgres stopped: ships every segment left; returns its last checkpoint's LSN
  // (pg_controldata), which the standby must reach.
  std::string Final();
  uint64_t bytes() const { return bytes_; }
  size_t rounds() const { return rounds_; }
  // After Final: the stopped source's next transaction id as pg_snapshot_xmax prints it (xid8,
  // from pg_controldata's "NextXID epoch:xid"); "" when not understood.
  const std::string& next_xid() const { return next_xid_; }

 private:
  size_t RoundVia(const Host& reader);
  size_t Ship(const Host& reader, const std::vector<std::string>& names);
  std::vector<std::string> UnpackArgv() const;  // the standby's side of a shipment
  const Postgres& src_;
  ClusterHome src_home_;
  const Postgres& dst_;
  ClusterHome dst_home_;
  std::string slot_;
  std::vector<std::string> shipped_;
  uint64_t bytes_ = 0;
  size_t rounds_ = 0;
  std::string next_xid_;
  struct Follower;
  std::unique_ptr<Follower> follower_;
};

// pg_controldata's "Latest checkpoint's NextXID: EPOCH:XID" as an xid8 ("" when absent or not
// understood).
std::string NextXidFromControlData(const std::string& control);

// Waits (up to `seconds`) until the standby in `admin`'s container replayed up to `lsn`, promotes
// it, and takes its restore_command and shipped WAL away. `admin`: the copy's superuser.
void PromoteStandby(const Postgres& admin, const ClusterHome& home, const std::string& lsn, int seconds);

// After a copy of `src`'s cluster into `dst`'s container: dst's user (LOGIN SUPERUSER, its
// password) and database name given back (ReapplyCredentialsSql, run as the copy's superuser).
void ReapplyCredentials(const Postgres& src, const Postgres& dst);

// What a physical copy records before it swaps the target's cluster (the pipeline keeps it in
// the migration folder: CopyMarkerFile), so that a run stopped between the swap and the
// re-applied credentials can finish them (ResumeCredentials).
struct CopyMarker {
  std::string admin_user;  // the copy's superuser: the source's user
  std::string source_db;   // the copied database's name before it takes the target's
};
std::string CopyMarkerJson(const CopyMarker& m);
// The marker in `path`, if any; throws mig::Error naming the file when it is not one.
std::optional<CopyMarker> LoadCopyMarker(const std::string& path);

// A copy swapped in whose credentials were never re-applied (the run stopped between the two):
// when `dst`'s own user cannot log in and the marker's superuser can (local socket, as every
// database command here), dst's credentials are re-applied (ReapplyCredentialsSql) and true is
// returned. False, with nothing changed, when dst answers as itself or the superuser does not
// answer either (the caller's own wait then says why).
bool ResumeCredentials(const Postgres& dst, const CopyMarker& m);

// Drops the replication slot `slot` of the source (nothing when there is none).
void DropSlot(const Postgres& src, const std::string& slot);

// The copy's superuser: the source's user, in the target's container (the copy has the source's
// roles until the target's are re-applied).
Postgres CopyAdmin(const Postgres& src, const Postgres& dst);

// The SQL that gives the target's user (LOGIN SUPERUSER, its password) and, when `from_db`
// differs, renames the copied database to the target's name.
std::string ReapplyCredentialsSql(const std::string& user, const std::string& password, const std::string& from_db,
                                  const std::string& to_db);

}  // namespace mig::db
