// Where the merge reads from: a local folder now, the agent over SSH later (issue 4).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/fd.h"
#include "sync/entry.h"

namespace mig::sync {

// A 128-bit content hash (XXH3-128), as two words.
struct Hash128 {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Hash128&) const = default;
  std::string hex() const;
};

// What copying one file's content produced.
struct CopyResult {
  Hash128 hash;         // of the bytes written
  uint64_t size = 0;    // bytes of content (holes included)
  int64_t mtime_sec = 0;  // the source's mtime when it was read (it may have changed since
  uint32_t mtime_nsec = 0;  // the listing; the copy carries what it read)
  bool changed_since_listing = false;
  bool vanished = false;  // the file was deleted since the listing: nothing was written
};

struct Plan;

// A CopyTo starts the write-back of every this many bytes it has written
// (sync_file_range WRITE), so the batch's syncfs finds little left to wait for.
inline constexpr int64_t kWritebackChunk = 8 << 20;

// Opens the target's current copy of `e` read-only, never through a symlink (an invalid Fd
// when there is none): the basis a delta is computed against.
using OpenBasis = std::function<Fd(const Entry& e)>;

// The side of the merge that has the files to carry.
class Source {
 public:
  virtual ~Source() = default;
  // The tree, entry by entry in the listing order (one stream at a time). `with_hashes`: the
  // merge will ask HashOf for files (--checksum); a remote source then has them computed
  // while it lists.
  virtual std::unique_ptr<TreeStream> Stream(bool with_hashes) = 0;
  // Called by Merge before it first changes the target (then again, harmlessly, before each
  // chunk that changes something). A source whose listing is still arriving receives the rest
  // here: a listing that breaks the rules then stops the merge before anything is written, and
  // the connection is free for CopyTo's requests. The default does nothing.
  virtual void BeforeWriting() {}
  // Called once by Apply before the first CopyTo: CopyTo will then be asked, in plan order,
  // for every regular file the plan creates or replaces. A remote source sends its requests
  // ahead from here. The default does nothing.
  virtual void Prepare(const Plan& plan, const OpenBasis& open_basis) {}
  // Writes the content of the regular file `e` into `out_fd` (from offset 0; holes stay
  // holes) and returns its hash; `vanished` when the file no longer exists. Throws mig::Error
  // when the file cannot be read.
  virtual CopyResult CopyTo(const Entry& e, int out_fd) = 0;
  // For --checksum: the hash of a file's content.
  virtual Hash128 HashOf(const Entry& e) = 0;
  virtual std::string Describe() const = 0;
};

// A folder on this machine.
std::unique_ptr<Source> MakeLocalSource(const std::string& root);

// Copies the content of `in_fd` to `out_fd` (sparse-aware) and hashes it.
CopyResult CopyFd(int in_fd, int out_fd, const std::string& what);
// Hashes the whole content of `fd` from offset 0.
Hash128 HashFd(int fd, const std::string& what);

// For --checksum (PlanOptions::same_content): compares a source file's hash with the hash
// of the file at the same path under the local folder `dst_root`.
std::function<bool(const Entry&, const Entry&)> SameContentByHash(Source& src, const std::string& dst_root);

}  // namespace mig::sync
