// Small files that must survive a crash, and private temporary folders.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include <optional>
#include <string>

namespace mig {

// Writes `text` to `path` so that after a crash `path` holds either its old content or all of
// `text`, never a part: a temporary name beside it, write, fsync, rename over `path`, fsync
// the folder. The file gets `mode`. Throws mig::Error (failed) naming `path` and the cause.
// For state.json, report.json, the DNS state, release files: small files, not data.
void WriteFileAtomic(const std::string& path, const std::string& text, mode_t mode = 0644);

// The content of `path`, or nullopt when it does not exist. Throws mig::Error (failed) when it
// exists but cannot be read, or is larger than `limit` bytes (a small file that is not small
// is damaged).
std::optional<std::string> ReadSmallFile(const std::string& path, size_t limit = 4 << 20);

// What a tree holds on disk: its entries (the top excluded) and the bytes written to its regular
// files (each file's allocated blocks, at most its size: a file a writer has sized but not yet
// filled counts what it holds). Entries that vanish or cannot be read while it walks are left
// out; a missing `dir` is empty. For progress beside a writer, not for accounting.
// Removes `name` under the folder `parent` (a folder with everything in it, or anything else),
// every step relative to a descriptor and never through a link: safe in a tree that another
// process may change meanwhile. Returns the entries removed; throws mig::Error naming
// `display` (how `name` is shown) when one cannot be removed.
uint64_t RemoveTreeAt(int parent, const std::string& name, const std::string& display);

struct TreeUsage {
  uint64_t entries = 0;
  uint64_t bytes = 0;
};
TreeUsage MeasureTree(const std::string& dir);

// A private folder (mode 0700) made with mkdtemp under $TMPDIR (else /tmp), removed with what
// it holds when this object is destroyed. Construction throws mig::Error (failed) when the
// folder cannot be made; then nothing is ever removed.
class TempDir {
 public:
  // In `base`, or "" for $TMPDIR (else /tmp).
  explicit TempDir(const std::string& prefix = "migrate", const std::string& base = "");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mig
