// A base backup unpacked and verified in this process, into a folder on this host, and swapped
// in by renames (docs/physical-db.md "Staged on this host").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/process.h"
#include "db/backup_manifest.h"

namespace mig::db {

struct UnpackResult {
  uint64_t bytes_in = 0;   // the compressed stream's bytes
  uint64_t bytes_out = 0;  // the files' bytes written
  uint64_t files = 0;
  std::string manifest;                 // backup_manifest's text
  std::map<std::string, SeenFile> seen;  // every regular file, by its path in the backup
};

// Unpacks the tar stream `from` prints (zstd, gzip or plain, as it comes) into the folder `dir`,
// which must exist and be empty; every entry is owned by uid:gid as it is made. The stream is
// never trusted: only folders, regular files and symbolic links, each made beneath `dir`
// (openat2 RESOLVE_BENEATH, never through a link), none twice. `progress` gets the stream's
// bytes so far. What an interrupted copy left in the source's data directory (.migrate-new/,
// .migrate-old/) is skipped. Throws mig::Error naming what failed (what was made stays, for the caller to
// remove); the program's own failure is the caller's to read (its exit code).
// Whether UnpackTar reads zstd in this process (libarchive built with libzstd).
bool UnpacksZstd();

UnpackResult UnpackTar(Proc& from, const std::string& dir, uid_t uid, gid_t gid,
                       const std::function<void(uint64_t)>& progress = {});

// Removes `name` in `folder` through descriptors, never through a link (the folder's entries may
// be another process's: RemoveTreeAt), best effort: a failure is a warning.
void RemoveBeneath(const std::string& folder, const std::string& name);

// A plain base backup (`pg_basebackup -Fp`) that another process wrote into the folder `from`,
// moved into the folder `to` (made here; on the same file system) as docs/physical-db.md "Both
// clusters on this host" says: its folders made anew (mode 0700), its files and links moved into
// them and checked where they land (regular files with no other name, or links), given uid:gid
// (files mode 0600); what an interrupted copy left in the source's data directory (.migrate-new/,
// .migrate-old/) left out; `from` removed. `seen` has every file's size (its checksum not read:
// "", the files never crossed a relay); backup_manifest's text is kept. Throws mig::Error naming
// what failed (what was moved stays in `to`, for the caller to remove).
UnpackResult MovePlainBackup(const std::string& from, const std::string& to, uid_t uid, gid_t gid);

// What makes a swapped-in copy a standby restoring the WAL shipped into `restore_dir` (its path
// as the target's server sees it): appended to its postgresql.auto.conf, by either stage.
std::string StandbyRestoreLines(const std::string& restore_dir);

// The swap in the stopped server's data directory `pgdata` (a folder on this host): its entries
// moved into .migrate-old/, the stage's (.migrate-new/) moved up, the server's own
// postgresql.conf, postgresql.auto.conf, pg_hba.conf and pg_ident.conf moved back over the
// copy's; with `standby`, made a standby restoring from pgdata/migrate-wal (`restore_dir`: that
// folder as the server sees it). Returns false, with nothing touched, when there is no staged
// cluster; throws mig::Error when it fails part way.
bool SwapStagedCluster(const std::string& pgdata, bool standby, const std::string& restore_dir, std::string& refused);

}  // namespace mig::db
