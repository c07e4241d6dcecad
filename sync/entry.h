// One entry of a file tree as the merge sees it, and listing a local tree into entries.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mig::sync {

enum class FileType : uint8_t { kRegular, kDirectory, kSymlink, kCharDevice, kBlockDevice, kFifo, kSocket };

const char* TypeName(FileType t);
// The S_IF* bits mknod(2) takes for a device, fifo or socket.
unsigned SpecialModeBits(FileType t);

// A file, folder, symlink or special file, with the attributes rsync -a carries.
struct Entry {
  std::string path;  // relative to the tree's root, '/'-separated; "" is the root itself
  FileType type = FileType::kRegular;
  uint32_t mode = 0;  // permission bits, 07777
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;  // regular files only
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint64_t rdev = 0;        // devices only
  uint64_t nlink = 1;       // > 1: the inode is shared (e.g. with data.backup/)
  std::string link_target;  // symlinks only
  bool has_hash = false;    // a remote listing made for --checksum: the content's XXH3-128
  uint64_t hash_lo = 0, hash_hi = 0;

  bool same_mtime(const Entry& o) const {
    return mtime_sec == o.mtime_sec && mtime_nsec == o.mtime_nsec;
  }
};

// True for the names this program gives its temporary files.
inline bool IsTempName(std::string_view base) { return base.rfind(".migrate.tmp.", 0) == 0; }

// The last component of a path ("a/b" -> "b").
std::string_view BaseName(std::string_view path);
// Everything before the last component ("a/b" -> "a", "b" -> "").
std::string_view DirName(std::string_view path);

// A tree's entries one at a time, in the listing order: depth first, a folder before what it
// holds, names in byte order; the root itself ("") first (docs/streaming-merge.md).
class TreeStream {
 public:
  virtual ~TreeStream() = default;
  // The next entry into `e`; false at the end.
  virtual bool Next(Entry& e) = 0;
};

// True when `a` comes before `b` in the listing order: bytes compared with '/' lowest.
bool ListOrderLess(std::string_view a, std::string_view b);

// Walks the folder `root_fd` (not taken: it must outlive the walker) as a TreeStream. Holds
// only the sorted names of the folders on the current path. Never follows a symlink.
// `root_display` names the tree in error messages. Throws mig::Error on an unreadable folder;
// with `check_readable`, also on a regular file this process may not read (not as root).
std::unique_ptr<TreeStream> WalkTree(int root_fd, const std::string& root_display, bool check_readable);

// WalkTree of the folder `dir`, or an empty stream when there is no such folder (a target
// without data/ yet). With `only` (paths relative to `dir`, as rsync's --include=/P
// --include=/P/*** --exclude='*' with each parent of P included alone): the root, each P with all
// it holds, and P's parents themselves; nothing else is read (a folder outside them is never
// opened).
std::unique_ptr<TreeStream> WalkTreeIfExists(const std::string& dir, const std::vector<std::string>& only = {});

// Whether `path` is one of `only`, inside one, or a parent of one ("" is the root: always).
bool Selected(std::string_view path, const std::vector<std::string>& only);

// `s` without the entries `only` does not select (an empty `only` selects all).
std::unique_ptr<TreeStream> SelectedOf(std::unique_ptr<TreeStream> s, std::vector<std::string> only);

// The entries of a vector as a stream (tests, and what is already in memory).
std::unique_ptr<TreeStream> StreamOf(std::vector<Entry> entries);

// Every entry of a stream (for tests and small trees only: memory grows with the tree).
std::vector<Entry> Collect(TreeStream& s);
std::vector<Entry> ListTree(int root_fd, const std::string& root_display, bool check_readable);
std::vector<Entry> ListTreeIfExists(const std::string& dir);

// Opens `path` (an existing folder) with O_DIRECTORY; throws a clear error otherwise.
int OpenDir(const std::string& path);

}  // namespace mig::sync
