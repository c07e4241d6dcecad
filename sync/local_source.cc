#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include "core/io.h"
#include "core/error.h"
#include "core/fd.h"
#include "sync/source.h"

namespace mig::sync {

namespace {

constexpr size_t kBufSize = 1 << 20;

thread_local std::vector<char> t_buf;

char* Buffer() {
  if (t_buf.empty()) t_buf.resize(kBufSize);
  return t_buf.data();
}

Hash128 Digest(XXH3_state_t* st) {
  XXH128_hash_t h = XXH3_128bits_digest(st);
  return Hash128{h.low64, h.high64};
}

struct State {
  XXH3_state_t* st = XXH3_createState();
  State() { XXH3_128bits_reset(st); }
  ~State() { XXH3_freeState(st); }
};

void HashZeros(XXH3_state_t* st, uint64_t n) {
  static const std::vector<char> zeros(kBufSize, 0);
  while (n > 0) {
    size_t k = n < kBufSize ? static_cast<size_t>(n) : kBufSize;
    XXH3_128bits_update(st, zeros.data(), k);
    n -= k;
  }
}

// Copies [from, to) of in to out; returns the bytes copied (less at an early end of file).
uint64_t CopyRange(int in, int out, off_t from, off_t to, XXH3_state_t* st,
                   const std::string& what) {
  char* buf = Buffer();
  const std::string copy_of = "the copy of " + what;
  off_t off = from, kicked = from;
  while (off < to) {
    if (out >= 0 && off - kicked >= kWritebackChunk) {
      // Start writing back what is written so far: the batch's syncfs then waits less.
      ::sync_file_range(out, kicked, off - kicked, SYNC_FILE_RANGE_WRITE);
      kicked = off;
    }
    size_t want = static_cast<size_t>(std::min<off_t>(to - off, kBufSize));
    ssize_t r = ::pread(in, buf, want, off);
    if (r < 0) {
      if (errno == EINTR) continue;
      Fail("cannot read " + what + ": " + ErrnoString());
    }
    if (r == 0) break;
    XXH3_128bits_update(st, buf, static_cast<size_t>(r));
    if (out >= 0) WriteAllAt(out, buf, static_cast<size_t>(r), off, copy_of);
    off += r;
  }
  return static_cast<uint64_t>(off - from);
}

class LocalSource : public Source {
 public:
  explicit LocalSource(std::string root) : root_(std::move(root)), root_fd_(OpenDir(root_)) {}

  std::unique_ptr<TreeStream> Stream(bool) override { return WalkTree(root_fd_.get(), root_, true); }

  CopyResult CopyTo(const Entry& e, int out_fd) override {
    Fd in = OpenFile(e, /*may_vanish=*/true);
    if (!in.valid()) {
      CopyResult gone;
      gone.vanished = true;
      return gone;
    }
    return CopyFd(in.get(), out_fd, root_ + "/" + e.path);
  }

  Hash128 HashOf(const Entry& e) override {
    Fd in = OpenFile(e);
    return HashFd(in.get(), root_ + "/" + e.path);
  }

  std::string Describe() const override { return root_; }

 private:
  // Beneath the root, through no symlink (the tree may change while the merge runs).
  Fd OpenFile(const Entry& e, bool may_vanish = false) {
    Fd fd(OpenBeneath(root_fd_.get(), e.path, O_RDONLY | O_NONBLOCK));
    struct stat st {};
    if (!fd.valid() && may_vanish && errno == ENOENT) return fd;
    if (!fd.valid()) Fail("cannot open " + root_ + "/" + e.path + ": " + ErrnoString());
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) Fail(root_ + "/" + e.path + " is no longer a regular file");
    return fd;
  }

  std::string root_;
  Fd root_fd_;
};

}  // namespace

std::string Hash128::hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

CopyResult CopyFd(int in, int out, const std::string& what) {
  struct stat st;
  if (::fstat(in, &st) != 0) Fail("cannot read " + what + ": " + ErrnoString());
  State h;
  const off_t size = st.st_size;
  off_t off = 0;
  bool sparse = static_cast<off_t>(st.st_blocks) * 512 < size;
  uint64_t copied = 0;
  while (off < size) {
    off_t data = off, hole = size;
    if (sparse) {
      data = ::lseek(in, off, SEEK_DATA);
      if (data < 0) data = size;  // ENXIO: only a hole is left
      if (data > size) data = size;
      hole = data < size ? ::lseek(in, data, SEEK_HOLE) : size;
      if (hole < 0 || hole > size) hole = size;
    }
    if (data > off) HashZeros(h.st, static_cast<uint64_t>(data - off));
    copied += static_cast<uint64_t>(data - off);
    if (data >= size) break;
    uint64_t n = CopyRange(in, out, data, hole, h.st, what);
    copied += n;
    off = data + static_cast<off_t>(n);
    if (n < static_cast<uint64_t>(hole - data)) break;  // the file shrank under us
  }
  // Only a copy that ends in a hole needs sizing: a truncate of a freshly written file is not
  // free on ext4 (it journals the inode again).
  if (out >= 0 && static_cast<uint64_t>(off) < copied && ::ftruncate(out, static_cast<off_t>(copied)) != 0)
    Fail("cannot size the copy of " + what + ": " + ErrnoString());
  struct stat after;
  CopyResult r;
  r.hash = Digest(h.st);
  r.size = copied;
  if (::fstat(in, &after) != 0) Fail("cannot read " + what + ": " + ErrnoString());
  r.mtime_sec = after.st_mtim.tv_sec;
  r.mtime_nsec = static_cast<uint32_t>(after.st_mtim.tv_nsec);
  r.changed_since_listing = after.st_size != size || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
                            after.st_mtim.tv_nsec != st.st_mtim.tv_nsec ||
                            copied != static_cast<uint64_t>(size);
  return r;
}

Hash128 HashFd(int fd, const std::string& what) {
  State h;
  CopyRange(fd, -1, 0, std::numeric_limits<off_t>::max(), h.st, what);
  return Digest(h.st);
}

std::function<bool(const Entry&, const Entry&)> SameContentByHash(Source& src, const std::string& dst_root) {
  // The target folder is opened once, at the first comparison, and kept by the function.
  auto root = std::make_shared<Fd>();
  return [&src, dst_root, root](const Entry& s, const Entry& d) {
    if (!root->valid()) *root = Fd(::open(dst_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    // Beneath the target, through no symlink, a regular file only: nothing else is hashed (and
    // so nothing outside the target is revealed by what the merge then copies or skips).
    Fd file(root->valid() ? OpenBeneath(root->get(), d.path, O_RDONLY | O_NONBLOCK) : -1);
    struct stat st {};
    if (!file.valid() || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    return HashFd(file.get(), dst_root + "/" + d.path) == src.HashOf(s);
  };
}

std::unique_ptr<Source> MakeLocalSource(const std::string& root) {
  return std::make_unique<LocalSource>(root);
}

}  // namespace mig::sync
