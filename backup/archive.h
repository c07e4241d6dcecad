// One backup as one portable file (docs/backup.md "The exported file"): a plain tar that
// `tar -tf` reads, with the manifest first, the configuration, data/, the database dump, a
// Swarm backup's volumes (each its tar stream as one member) and SHA256SUMS last (`sha256sum -c`
// format). Written and read with libarchive; a reader trusts
// nothing in it until every member's checksum matched.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "core/process.h"
#include "db/dump.h"

struct archive;
struct archive_entry;

namespace mig::backup {

using Sink = std::function<void(const char*, size_t)>;

// A Swarm volume's member: "volumes/NODE/NAME.tar".
std::string VolumeMember(const SwarmPart::Volume& v);

// A backup's files (its configuration and data/) entry by entry, as the file takes them.
class FilesReader {
 public:
  virtual ~FilesReader() = default;
  // The next entry into `e` (cleared first): its name relative to the backup's root ("VERSION",
  // "data", "data/sub/a"), type, permissions, owner, times, size, link target; false after the
  // last. Throws mig::Error when the files cannot be read.
  virtual bool Next(struct archive_entry* e) = 0;
  // The current regular file's bytes, in pieces; 0 at its end.
  virtual size_t Read(char* buf, size_t len) = 0;
};

// Writes the file at `output` (built as output.partial, fsynced, renamed): of `files`, the
// entries of m.config that are regular files (as config/NAME) and data/'s (a device node in it
// is refused); `dump` writes the database dump (m.db->dump_bytes of it) through the sink it is
// given, `volume` each of m.swarm's volumes (its bytes). `progress` is told the members and
// the bytes of content written so far, as they grow.
using WriteProgress = std::function<void(uint64_t members, uint64_t bytes)>;
void WriteArchive(const std::string& output, const Manifest& m, FilesReader& files,
                  const std::function<void(const Sink&)>& dump,
                  const std::function<void(const SwarmPart::Volume&, const Sink&)>& volume = {},
                  const WriteProgress& progress = {});

// Reads the whole file and checks it: the members' names and order, every regular member's
// SHA-256 against SHA256SUMS, the manifest. Returns the manifest; throws mig::Error (input)
// naming what is wrong with a tampered, truncated or foreign file.
Manifest VerifyArchive(const std::string& path);

// Extracts the members under `prefix` ("data/" or "config/") into `dir` (owners, modes, times
// kept; never outside `dir`: no absolute names, no "..", no writing through symlinks), except
// those at or below a `skip` path (relative to the prefix). Returns the entries written.
uint64_t ExtractArchive(const std::string& path, const std::string& prefix, const std::string& dir,
                        const std::vector<std::string>& skip);

// One regular member's content read as a program's stdout (a Swarm volume's tar for the restore's
// WriteVolumes): wait() is 0 when exactly `size` bytes were read, else 1 with err_text saying so.
class ArchiveMember : public Proc {
 public:
  // Throws mig::Error when the file has no such member.
  ArchiveMember(std::string path, std::string member, uint64_t size);
  ~ArchiveMember() override;
  size_t read(char* buf, size_t len) override;
  void write(const char* buf, size_t len) override;  // fails: it takes no input
  void close_stdin() override {}
  int wait() override;
  void kill() override;
  std::string err_text() const override { return err_; }

 private:
  std::string path_, member_;
  uint64_t size_ = 0, bytes_ = 0;
  struct archive* a_ = nullptr;
  std::string err_;
};

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
