// A base backup's manifest (backup_manifest) checked against the files unpacked.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mig::db {

// Where a copy is staged inside the target's data directory, and where its swap sets the
// target's own entries aside (same file system: the swap is renames).
inline constexpr const char* kStageName = ".migrate-new";
inline constexpr const char* kSetAsideName = ".migrate-old";

// What an interrupted copy into the source's own data directory left there (its stage, what its
// swap set aside): in the source's backup, but never unpacked (it would clash with this copy's).
bool LeftByACopy(const std::string& path);

// A WAL segment's file name in pg_wal/ (24 upper-case hex digits), and a segment's or a
// timeline history file's (8 hex digits and ".history").
bool IsSegmentName(const std::string& n);
bool IsWalName(const std::string& n);

// What the unpacking saw of a regular file.
struct SeenFile {
  uint64_t size = 0;
  std::string crc32c;  // Crc32c::Hex(); "" when not read (ManifestProblems' sizes_only)
};

// What pg_verifybackup would say of an unpacked backup (without parsing its WAL): the
// manifest's own SHA-256, every file it lists seen with its size and checksum, no file beside
// them but those it leaves out (backup_manifest, pg_wal/, the signal files), and the WAL
// segments its WAL-Ranges need seen whole; what UnpackTar skips is not looked for. `sizes_only`:
// the files' checksums were not read (a copy that crossed no relay: MovePlainBackup), their
// sizes are checked. Empty when it verifies; at most a few sentences.
std::vector<std::string> ManifestProblems(const std::string& manifest, const std::map<std::string, SeenFile>& seen,
                                          bool sizes_only = false);

}  // namespace mig::db
