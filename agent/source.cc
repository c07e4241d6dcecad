// AgentSource: the merge's source on the agent's host. Its listing (agent/listing.cc), then
// pipelined GETs in plan order, block sums of the target's copies and checked patching.
#include "agent/source.h"

#include <fcntl.h>
#include <librsync.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "agent/block_delta.h"
#include "agent/listing.h"
#include "agent/rsync_job.h"
#include "core/error.h"
#include "core/io.h"
#include "sync/plan.h"

namespace mig::agent {

using sync::Entry;

AgentSource::AgentSource(AgentSession& s, std::string root, std::string display, std::string spool_dir)
    : s_(s), root_(std::move(root)), display_(std::move(display)), spool_dir_(std::move(spool_dir)) {}

AgentSource::~AgentSource() = default;

void AgentSource::BeforeWriting() {
  if (listing_) listing_->Drain();
}

std::unique_ptr<sync::TreeStream> AgentSource::Stream(bool with_hashes) {
  Fd spool = SpoolFile(spool_dir_);
  uint8_t flags = kListCheckReadable | (with_hashes ? kListHashes : 0);  // unreadable files: refused up front
  s_.Send(Type::kList, EncodeList({root_, flags}));
  listing_ = std::make_shared<Listing>(s_, display_, spool_dir_, std::move(spool));
  return MakeListingStream(listing_);
}

ListEnd AgentSource::Totals() {
  if (listing_ && !listing_->ended()) Fail("internal: the totals of " + display_ + " asked during its listing");
  s_.Send(Type::kList, EncodeList({root_, kListTotalsOnly}));
  while (true) {
    Frame f = s_.Receive();
    if (f.type == Type::kListEnd) return DecodeListEnd(f.payload, s_.peer());
    if (f.type != Type::kEntries) Violation(s_.peer(), std::string("a ") + TypeName(f.type) + " frame inside a listing");
    PayloadReader r(f.payload, s_.peer());
    if (r.U32() != 0) Violation(s_.peer(), "entries where only the totals were asked");
    r.Done("ENTRIES");
  }
}

void AgentSource::Prepare(const sync::Plan& plan, const sync::OpenBasis& open_basis) {
  if (listing_ && !listing_->ended() && !plan.ChangesNothing())
    Fail("internal: requests for " + display_ + " before its listing was received");
  open_basis_ = open_basis;
  reqs_.clear();
  sent_ = taken_ = 0;
  in_flight_bytes_ = 0;
  for (const sync::Item& item : plan.items) {
    if (item.src.type != sync::FileType::kRegular) continue;
    if (item.action != sync::Action::kCreate && item.action != sync::Action::kReplace) continue;
    bool delta = item.action == sync::Action::kReplace && item.dst && item.dst->type == sync::FileType::kRegular &&
                 item.dst->size >= kMinDeltaSize && item.src.size >= kMinDeltaSize;
    reqs_.push_back({next_index_++, &item.src, delta});
  }
}

namespace {

// A fresh seed for a file's block sums: content made to collide with the target's blocks under
// one seed does not collide under the next.
uint64_t SumsSeed() {
  uint64_t seed = 0;
  // Without getrandom a guessable seed: it only raises the bar, the whole-file hash still holds.
  if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = static_cast<uint64_t>(::time(nullptr)) ^ ::getpid();
  return seed;
}

// The basis of a patch: the target's old copy, read by offset with every range checked.
struct Basis {
  int fd;
  uint64_t size;
  std::string_view peer;
  bool bad = false;
};

rs_result CopyFromBasis(void* arg, rs_long_t pos, size_t* len, void** buf) {
  auto* b = static_cast<Basis*>(arg);
  if (pos < 0 || static_cast<uint64_t>(pos) > b->size || *len > b->size - static_cast<uint64_t>(pos)) {
    b->bad = true;
    return RS_CORRUPT;
  }
  size_t got = 0;
  while (got < *len) {
    ssize_t n = ::pread(b->fd, static_cast<char*>(*buf) + got, *len - got, pos + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return RS_IO_ERROR;
    got += static_cast<size_t>(n);
  }
  return RS_DONE;
}

}  // namespace

void AgentSource::SendRequest(const Request& r) {
  if (!r.delta) {
    s_.Send(Type::kGet, EncodeGet({r.index, 0, 0, r.src->path}));
    return;
  }
  Fd basis = open_basis_(*r.src);
  if (!basis.valid()) {  // gone since the plan: the file travels whole
    s_.Send(Type::kGet, EncodeGet({r.index, 0, 0, r.src->path}));
    return;
  }
  struct stat st {};
  ::fstat(basis.get(), &st);
  std::string sig = SignFile(basis.get(), static_cast<uint64_t>(st.st_size), SumsSeed(), display_ + "/" + r.src->path);
  s_.Send(Type::kGet, EncodeGet({r.index, 1, static_cast<uint32_t>(sig.size()), r.src->path}));
  for (size_t off = 0; off < sig.size(); off += kMaxChunk)
    s_.Send(Type::kSig, std::string_view(sig).substr(off, kMaxChunk));
}

// What a request is expected to bring back: a whole file its size, a delta much less (several
// deltas in flight let the agent compute one while this side signs or patches another).
uint64_t AgentSource::Weight(const Request& r) { return r.delta ? r.src->size / 16 : r.src->size; }

void AgentSource::TopUp() {
  while (sent_ < reqs_.size() &&
         (sent_ == taken_ || (sent_ - taken_ < kWindowFiles && in_flight_bytes_ < kWindowBytes))) {
    Request& r = reqs_[sent_];
    SendRequest(r);
    in_flight_bytes_ += Weight(r);
    ++sent_;
  }
}

sync::CopyResult AgentSource::CopyTo(const Entry& e, int out_fd) {
  if (taken_ >= reqs_.size() || reqs_[taken_].src->path != e.path)
    Fail("internal: the merge asked the agent for " + e.path + " out of the plan's order");
  TopUp();
  const Request req = reqs_[taken_];
  const std::string what = Printable(display_ + "/" + e.path, 4200);
  const std::string peer = s_.peer();
  Frame f = s_.Receive();
  if (f.type == Type::kFileFail) {
    FileFail fail = DecodeFileFail(f.payload, peer);
    if (fail.index != req.index) Violation(peer, "an answer for another file than " + what);
    if (!fail.vanished) Fail("cannot copy " + what + ": " + fail.reason);
    ++taken_;
    in_flight_bytes_ -= Weight(req);
    TopUp();
    sync::CopyResult gone;
    gone.vanished = true;
    return gone;
  }
  if (f.type != Type::kFile) Violation(peer, std::string("a ") + TypeName(f.type) + " frame where " + what + " was due");
  FileBegin begin = DecodeFileBegin(f.payload, peer);
  if (begin.index != req.index || begin.mode != (req.delta ? 1 : 0))
    Violation(peer, "an answer for another file or mode than " + what);
  Fd basis_fd;
  Basis basis{-1, 0, peer};
  std::optional<RsyncJob> patch;  // with a delta: its patch against the target's copy
  if (req.delta) {
    basis_fd = open_basis_(e);
    if (!basis_fd.valid()) Fail("the target's copy of " + e.path + " went away during the merge");
    struct stat st {};
    ::fstat(basis_fd.get(), &st);
    basis = {basis_fd.get(), static_cast<uint64_t>(st.st_size), peer};
    patch.emplace(rs_patch_begin(CopyFromBasis, &basis), what, kMaxChunk);
  }
  XXH3_state_t* st = XXH3_createState();
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hst(st, XXH3_freeState);
  XXH3_128bits_reset(st);
  const uint64_t limit = e.size + kGrowthSlack;
  uint64_t written = 0;
  // Blocks of zeros become holes (the local merge keeps sparse files sparse too); the file is
  // sized at the end in case it ends in one. Runs of other blocks are written in one call, and
  // their write-back started every kWritebackChunk bytes.
  constexpr size_t kBlock = 4096;
  static const char zeros[kBlock] = {};
  bool ends_in_hole = false;
  uint64_t kicked = 0;
  auto write_out = [&](const char* p, size_t n) {
    if (n > limit - written) Violation(peer, "more content for " + what + " than its size allows");
    XXH3_128bits_update(st, p, n);
    while (n > 0) {
      size_t run = 0;  // bytes up to the next whole block of zeros
      while (run < n) {
        size_t chunk = std::min(n - run, kBlock - static_cast<size_t>((written + run) % kBlock));
        if (chunk == kBlock && std::memcmp(p + run, zeros, kBlock) == 0) break;
        run += chunk;
      }
      if (run == 0) {
        if (::lseek(out_fd, kBlock, SEEK_CUR) < 0) Fail("cannot seek in the copy of " + what + ": " + ErrnoString());
        ends_in_hole = true;
        run = kBlock;
      } else {
        WriteFd(out_fd, p, run, what.c_str());
        ends_in_hole = false;
      }
      p += run;
      n -= run;
      written += run;
      if (written - kicked >= static_cast<uint64_t>(sync::kWritebackChunk)) {
        ::sync_file_range(out_fd, static_cast<off_t>(kicked), static_cast<off_t>(written - kicked),
                          SYNC_FILE_RANGE_WRITE);
        kicked = written;
      }
    }
  };
  bool patch_done = !req.delta;
  const RsyncJob::Sink patched = [&](std::string_view bytes) { write_out(bytes.data(), bytes.size()); };
  while (true) {
    f = s_.Receive();
    if (f.type == Type::kData) {
      if (!req.delta) {
        write_out(f.payload.data(), f.payload.size());
        continue;
      }
      if (patch_done) Violation(peer, "delta bytes after the end of the delta of " + what);
      size_t unused = 0;
      rs_result r = patch->Push(f.payload, /*eof=*/false, patched, &unused);  // the delta ends itself
      if (r == RS_DONE) {
        patch_done = true;
        if (unused != 0) Violation(peer, "bytes after the end of the delta of " + what);
        continue;
      }
      if (basis.bad) Violation(peer, "a delta for " + what + " that copies from outside the target's copy");
      if (r != RS_BLOCKED) Violation(peer, "a delta for " + what + " that librsync rejects: " + rs_strerror(r));
      continue;
    }
    if (f.type == Type::kFileFail) {
      FileFail fail = DecodeFileFail(f.payload, peer);
      if (fail.index != req.index) Violation(peer, "a FILE_FAIL for another file than " + what);
      Fail("cannot copy " + what + ": " + fail.reason);
    }
    if (f.type != Type::kFileEnd) Violation(peer, std::string("a ") + TypeName(f.type) + " frame inside " + what);
    FileEnd end = DecodeFileEnd(f.payload, peer);
    if (end.index != req.index) Violation(peer, "a FILE_END for another file than " + what);
    if (!patch_done) Violation(peer, "the delta of " + what + " ends early");
    XXH128_hash_t h = XXH3_128bits_digest(st);
    sync::Hash128 got{h.low64, h.high64};
    if (ends_in_hole && ::ftruncate(out_fd, static_cast<off_t>(written)) != 0)
      Fail("cannot size the copy of " + what + ": " + ErrnoString());
    if (end.size != written || !(end.hash == got))
      Fail("the copy of " + what + " does not match what the agent read (" + std::to_string(written) + " of " +
           std::to_string(end.size) + " bytes, hash " + (end.hash == got ? "equal" : "differs") +
           "): the transfer was corrupted; run again");
    ++taken_;
    in_flight_bytes_ -= Weight(req);
    if (req.delta) ++delta_files_;
    TopUp();
    sync::CopyResult res;
    res.hash = got;
    res.size = written;
    res.mtime_sec = end.mtime_sec;
    res.mtime_nsec = end.mtime_nsec;
    // What the agent read against what it listed (it keeps no listing: compared here).
    res.changed_since_listing = end.changed || end.size != e.size || end.mtime_sec != e.mtime_sec ||
                                end.mtime_nsec != e.mtime_nsec;
    return res;
  }
}

// The agent hashed the file while listing (--checksum); none when it could not read it, and
// then no hash matches: the file is copied (and its GET says why it cannot be read).
sync::Hash128 AgentSource::HashOf(const Entry& e) {
  if (!e.has_hash) return {~0ull, ~0ull};
  return {e.hash_lo, e.hash_hi};
}

}  // namespace mig::agent
