// A program's stdout as libarchive's input: a base backup's tar (db/cluster_files.cc), restic
// dump's (backup/archive.cc). Header-only: core does not link libarchive, its users do.
#pragma once

#include <archive.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <functional>
#include <vector>

#include "core/process.h"

namespace mig {

// Feeds libarchive from a Proc. What reading the program throws (a connection lost) is kept
// while libarchive's C code returns, and rethrown by Check().
class ArchiveFeed {
 public:
  explicit ArchiveFeed(Proc& from, std::function<void(uint64_t)> progress = {})
      : from_(from), progress_(std::move(progress)) {}
  ArchiveFeed(const ArchiveFeed&) = delete;
  ArchiveFeed& operator=(const ArchiveFeed&) = delete;
  // archive_read_open on the program's output (ARCHIVE_OK or libarchive's error code).
  int Open(struct archive* a) { return archive_read_open(a, this, nullptr, &ArchiveFeed::Read, nullptr); }
  // Rethrows what reading the program threw, if it did (call after a libarchive call failed).
  void Check() const {
    if (error_) std::rethrow_exception(error_);
  }
  uint64_t bytes() const { return bytes_; }

 private:
  static la_ssize_t Read(struct archive* a, void* ctx, const void** out) {
    auto* f = static_cast<ArchiveFeed*>(ctx);
    try {
      const size_t n = f->from_.read(f->buf_.data(), f->buf_.size());
      f->bytes_ += n;
      if (f->progress_ && n) f->progress_(f->bytes_);
      *out = f->buf_.data();
      return static_cast<la_ssize_t>(n);
    } catch (...) {
      f->error_ = std::current_exception();
      archive_set_error(a, EIO, "the stream failed");
      return -1;
    }
  }
  Proc& from_;
  std::function<void(uint64_t)> progress_;
  std::vector<char> buf_ = std::vector<char>(1u << 18);
  uint64_t bytes_ = 0;
  std::exception_ptr error_;
};

}  // namespace mig
