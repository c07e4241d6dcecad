// The listing of an AgentSource as it arrives: checked frame by frame, spooled while the merge
// waits for files, read back in order (docs/streaming-merge.md).
#include "agent/listing.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"
#include "core/io.h"

namespace mig::agent {

using sync::Entry;

Fd SpoolFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {  // a file system without O_TMPFILE
    std::string name = dir + "/.migrate.listing.XXXXXX";
    fd = ::mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) ::unlink(name.c_str());
  }
  if (fd < 0) Fail("cannot create the listing's spool file in " + dir + ": " + ErrnoString());
  return Fd(fd);
}

AgentSource::Listing::Listing(AgentSession& s, std::string display, std::string spool_dir, Fd spool)
    : s_(s), display_(std::move(display)), spool_dir_(std::move(spool_dir)), spool_(std::move(spool)),
      check_(s.peer()) {}

bool AgentSource::Listing::Next(std::vector<Entry>& batch) {
  batch.clear();
  while (batch.empty()) {
    if (ReadSpooled(batch)) continue;
    if (end_) return false;
    if (!Receive(batch, nullptr)) return false;
  }
  return true;
}

void AgentSource::Listing::Drain() {
  std::vector<Entry> batch;
  std::string buf;
  std::string payload;
  while (!end_) {
    if (!Receive(batch, &payload)) break;
    const uint32_t len = static_cast<uint32_t>(payload.size());
    const char len_bytes[4] = {static_cast<char>(len), static_cast<char>(len >> 8), static_cast<char>(len >> 16),
                               static_cast<char>(len >> 24)};
    buf.append(len_bytes, 4).append(payload);
    if (buf.size() >= (4u << 20)) Spool(buf);
  }
  Spool(buf);
}

bool AgentSource::Listing::Receive(std::vector<Entry>& batch, std::string* payload) {
  batch.clear();
  while (true) {
    Frame f = s_.Receive();
    if (f.type == Type::kListEnd) {
      ListEnd end = DecodeListEnd(f.payload, s_.peer());
      if (end.entries != check_.count())
        Violation(s_.peer(), "LIST_END counts " + std::to_string(end.entries) + " entries, " +
                                 std::to_string(check_.count()) + " came");
      if (end.bytes != bytes_)
        Violation(s_.peer(), "LIST_END counts " + std::to_string(end.bytes) + " bytes, the entries " + std::to_string(bytes_));
      end_ = end;
      return false;
    }
    if (f.type != Type::kEntries) Violation(s_.peer(), std::string("a ") + TypeName(f.type) + " frame inside a listing");
    PayloadReader r(f.payload, s_.peer());
    uint32_t count = r.U32();
    if (count > kMaxFrame / 40) Violation(s_.peer(), "an ENTRIES frame claiming " + std::to_string(count) + " entries");
    if (count == 0) {  // the agent saying it is still at work
      r.Done("ENTRIES");
      continue;
    }
    batch.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      Entry e = DecodeEntry(r);
      check_.Check(e);
      if (e.size > UINT64_MAX - bytes_) Violation(s_.peer(), "a listing whose sizes add up past 2^64");
      bytes_ += e.size;
      batch.push_back(std::move(e));
    }
    r.Done("ENTRIES");
    if (payload) *payload = std::move(f.payload);
    return true;
  }
}

void AgentSource::Listing::Spool(std::string& buf) {
  if (buf.empty()) return;
  WriteAllAt(spool_.get(), buf.data(), buf.size(), static_cast<off_t>(write_off_),
             "the listing's spool file in " + spool_dir_);
  write_off_ += buf.size();
  buf.clear();
  // An endless listing (a hostile agent) must not fill the target's disk.
  struct statvfs vfs {};
  if (::fstatvfs(spool_.get(), &vfs) == 0 && static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize < kMinFreeForSpool)
    Fail("the listing of " + display_ + " (" + std::to_string(check_.count()) + " entries so far) would fill " +
         spool_dir_ + ": free space there, or check the old server's folder");
}

bool AgentSource::Listing::ReadSpooled(std::vector<Entry>& batch) {
  if (read_off_ == write_off_) return false;
  char len_bytes[4];
  ReadAt(len_bytes, 4);
  uint32_t len = static_cast<uint8_t>(len_bytes[0]) | static_cast<uint8_t>(len_bytes[1]) << 8 |
                 static_cast<uint8_t>(len_bytes[2]) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(len_bytes[3])) << 24;
  if (len > kMaxFrame || len > write_off_ - read_off_) Fail("the listing's spool file is damaged (" + display_ + ")");
  std::string payload(len, '\0');
  ReadAt(payload.data(), len);
  PayloadReader r(payload, s_.peer());
  uint32_t count = r.U32();
  batch.reserve(count);
  for (uint32_t i = 0; i < count; ++i) batch.push_back(DecodeEntry(r));
  r.Done("ENTRIES");
  return true;
}

void AgentSource::Listing::ReadAt(char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = ::pread(spool_.get(), p + got, n - got, static_cast<off_t>(read_off_ + got));
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) Fail("cannot read the listing's spool file: " + ErrnoString());
    if (k == 0) Fail("the listing's spool file ends early (" + display_ + ")");
    got += static_cast<size_t>(k);
  }
  read_off_ += n;
}
namespace {

// The merge's view of a listing: its batches, one entry at a time.
class ListingStream : public sync::TreeStream {
 public:
  explicit ListingStream(std::shared_ptr<AgentSource::Listing> l) : l_(std::move(l)) {}

  bool Next(Entry& e) override {
    while (pos_ == batch_.size()) {
      pos_ = 0;
      if (!l_->Next(batch_)) return false;
    }
    e = std::move(batch_[pos_++]);
    return true;
  }

 private:
  std::shared_ptr<AgentSource::Listing> l_;
  std::vector<Entry> batch_;
  size_t pos_ = 0;
};

}  // namespace

std::unique_ptr<sync::TreeStream> MakeListingStream(std::shared_ptr<AgentSource::Listing> l) {
  return std::make_unique<ListingStream>(std::move(l));
}

}  // namespace mig::agent
