// One backup as one portable file (docs/backup.md "The exported file"): a plain tar that
// `tar -tf` reads, with the manifest first, the configuration, data/, the database dump and
// SHA256SUMS last (`sha256sum -c` format). Written and read with libarchive; a reader trusts
// nothing in it until every member's checksum matched.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "db/dump.h"

struct archive;

namespace mig::backup {

// Writes the file at `output` (built as output.partial, fsynced, renamed): `stage` holds the
// backup's files as restic restored them (stage/data/..., stage/<config file>), `dump` writes
// the database dump (m.db->dump_bytes of it) through the function it is given.
void WriteArchive(const std::string& output, const Manifest& m, const std::string& stage,
                  const std::function<void(const std::function<void(const char*, size_t)>&)>& dump);

// Reads the whole file and checks it: the members' names and order, every regular member's
// SHA-256 against SHA256SUMS, the manifest. Returns the manifest; throws mig::Error (input)
// naming what is wrong with a tampered, truncated or foreign file.
Manifest VerifyArchive(const std::string& path);

// Extracts the members under `prefix` ("data/" or "config/") into `dir` (owners, modes, times
// kept; never outside `dir`: no absolute names, no "..", no writing through symlinks), except
// those at or below a `skip` path (relative to the prefix). Returns the entries written.
uint64_t ExtractArchive(const std::string& path, const std::string& prefix, const std::string& dir,
                        const std::vector<std::string>& skip);

// The archive's db.dump as a replay's source (roles, locale and rows from `m`).
class ArchiveDump : public db::DumpSource {
 public:
  ArchiveDump(std::string path, const Manifest& m);
  ~ArchiveDump() override;
  std::string Describe() const override;
  std::vector<db::Role> Roles() override { return m_.db->roles; }
  std::optional<db::DbLocale> Locale() override { return m_.db->locale; }
  void Start() override;
  size_t Read(char* buf, size_t len) override;
  db::DbState End() override;
  void Abort() noexcept override;

 private:
  std::string path_;
  const Manifest& m_;
  struct archive* a_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace mig::backup
