#include "agent/client.h"

#include <librsync.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "core/io.h"
#include "core/error.h"
#include "sync/plan.h"

namespace mig::agent {

using sync::Entry;

AgentSession::AgentSession(std::unique_ptr<Transport> t)
    : t_(std::move(t)), peer_(t_->Describe()), dec_(peer_) {}

AgentSession::~AgentSession() = default;

const Hello& AgentSession::Handshake(const std::string& my_version) {
  Send(Type::kHello, EncodeHello({kProtocolVersion, my_version, ""}));
  Frame f = Receive();
  if (f.type != Type::kHello) Violation(peer_, std::string("a ") + TypeName(f.type) + " frame before HELLO");
  hello_ = DecodeHello(f.payload, peer_);
  if (hello_.version != kProtocolVersion)
    Fail(peer_ + " speaks protocol version " + std::to_string(hello_.version) + ", this migrate speaks " +
         std::to_string(kProtocolVersion) + ": use an agent of the same version as migrate (" + my_version + ")");
  return hello_;
}

void AgentSession::Send(Type type, std::string_view payload, bool compress) {
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
  AppendFrame(out_, type, payload, compress);
  // Much queued: wait until the agent takes it. Meanwhile its answers are read past the usual
  // bound, or an agent blocked on writing them would never read our requests; but not without
  // end (an agent that only writes), and not forever (one that does nothing).
  WaitSent(8u << 20);
}

void AgentSession::WaitSent(size_t queued_at_most) {
  auto idle_since = std::chrono::steady_clock::now();
  while (out_.size() - out_pos_ > queued_at_most && !ended_) {
    size_t before = out_pos_;
    uint64_t seen = bytes_in_;
    Pump(true, /*over_cap=*/true);
    if (dec_.buffered() > kMaxOverCap)
      Violation(peer_, "it sends without reading what it is asked (" + std::to_string(dec_.buffered() >> 20) +
                           " MiB unread)");
    if (out_pos_ != before || bytes_in_ != seen) {
      idle_since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - idle_since > std::chrono::milliseconds(kIdleTimeoutMs)) {
      Fail(peer_ + " took nothing for " + std::to_string(kIdleTimeoutMs / 1000) + " s: the connection is stuck");
    }
  }
}

void AgentSession::Pump(bool block, bool over_cap) {
  if (!t_) Fail("the connection to " + peer_ + " was dropped");
  bool moved = false;
  while (out_pos_ < out_.size()) {
    size_t n = t_->WriteSome(out_.data() + out_pos_, out_.size() - out_pos_);
    if (n == 0) break;
    out_pos_ += n;
    bytes_out_ += n;
    moved = true;
  }
  if (out_pos_ == out_.size() && out_pos_ > 0) out_.clear(), out_pos_ = 0;
  char buf[1 << 16];
  while (!ended_ && (over_cap || dec_.buffered() < kMaxBuffered)) {
    long n = t_->ReadSome(buf, sizeof buf);
    if (n < 0) {
      ended_ = true;
      break;
    }
    if (n == 0) break;
    dec_.Feed(std::string_view(buf, static_cast<size_t>(n)));
    bytes_in_ += static_cast<uint64_t>(n);
    moved = true;
  }
  if (!moved && block && !ended_) t_->Wait(out_pos_ < out_.size(), 1000);
}

Frame AgentSession::Receive() {
  auto idle_since = std::chrono::steady_clock::now();
  uint64_t seen = bytes_in_;
  while (true) {
    std::optional<Frame> f;
    try {
      f = dec_.Next();
    } catch (const Error&) {
      if (got_frame_) throw;
      NotAnAgent();
    }
    if (f) {
      got_frame_ = true;
      if (f->type == Type::kError) {
        PayloadReader r(f->payload, peer_);
        bool bad_input = r.U8() != 0;
        std::string msg = Printable(r.LStr(kMaxMessage), 2000);
        if (bad_input) BadInput(peer_ + ": " + msg);
        Fail(peer_ + " failed: " + msg);
      }
      return std::move(*f);
    }
    if (ended_) {
      if (!got_frame_ && dec_.buffered() != 0) NotAnAgent();
      if (dec_.buffered() != 0) Violation(peer_, "the stream ends in the middle of a frame");
      Fail(peer_ + " ended the connection: " + t_->EndReason());
    }
    Pump(true);
    if (bytes_in_ != seen) {
      seen = bytes_in_;
      idle_since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - idle_since > std::chrono::milliseconds(kIdleTimeoutMs)) {
      Fail(peer_ + " sent nothing for " + std::to_string(kIdleTimeoutMs / 1000) + " s: the connection is stuck");
    }
  }
}

void AgentSession::NotAnAgent() {
  std::string said;
  for (char c : dec_.pending().substr(0, 120)) said += (c >= 0x20 && c < 0x7f) ? c : ' ';
  not_agent_text_ = said;
  Violation(peer_, "it does not speak the migrate agent protocol (it sent '" + said +
                       "'): is something printing on the remote shell's startup?");
}

void AgentSession::Close() {
  if (!t_) return;
  Send(Type::kBye, "");
  WaitSent(0);
}

void AgentSession::Abandon() { t_.reset(); }

namespace {

class AgentProc : public Proc {
 public:
  AgentProc(AgentSession& s, const std::vector<std::string>& argv) : s_(s) {
    command_ = CommandLine(argv) + " (through migrate-agent on " + s.peer() + ")";
    s_.Send(Type::kRun, EncodeRun(argv));
  }

  size_t read(char* buf, size_t len) override {
    while (pos_ == data_.size()) {
      if (ended_) return 0;
      Next();
    }
    size_t n = std::min(len, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  void write(const char*, size_t) override { Fail("internal: " + command_ + " has no stdin"); }
  void close_stdin() override {}
  int wait() override {
    while (!ended_) {
      if (s_.abandoned()) return 128 + 9;
      Next();
      data_.clear();
      pos_ = 0;
    }
    return code_;
  }
  void kill() override {
    if (!ended_) s_.Abandon();
  }
  std::string err_text() const override { return err_; }

 private:
  void Next() {
    if (s_.abandoned()) {
      ended_ = true;
      code_ = 128 + 9;
      return;
    }
    Frame f = s_.Receive();
    if (f.type == Type::kData) {
      data_ = std::move(f.payload);
      pos_ = 0;
    } else if (f.type == Type::kRunEnd) {
      RunEnd e = DecodeRunEnd(f.payload, s_.peer());
      ended_ = true;
      code_ = e.code;
      err_ = std::move(e.err);
    } else {
      Violation(s_.peer(), std::string("a ") + TypeName(f.type) + " frame in the output of " + command_);
    }
  }

  AgentSession& s_;
  std::string data_;
  size_t pos_ = 0;
  bool ended_ = false;
  int code_ = -1;
  std::string err_;
};

}  // namespace

std::unique_ptr<Proc> RunThroughAgent(AgentSession& s, const std::vector<std::string>& argv) {
  return std::make_unique<AgentProc>(s, argv);
}

AgentSource::AgentSource(AgentSession& s, std::string root, std::string display, std::string spool_dir)
    : s_(s), root_(std::move(root)), display_(std::move(display)), spool_dir_(std::move(spool_dir)) {}

namespace {

// An unlinked temporary file in `dir`: it vanishes with the process, whatever happens.
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

}  // namespace

// A listing as it arrives (docs/streaming-merge.md): each ENTRIES frame is checked on arrival.
// The merge takes the batches as they come, so it walks the target while the agent walks the
// source; what arrives while the merge waits for files (Drain) goes to the spool first, and is
// read back from there in order.
class AgentSource::Listing {
 public:
  Listing(AgentSession& s, std::string display, std::string spool_dir, Fd spool)
      : s_(s), display_(std::move(display)), spool_dir_(std::move(spool_dir)), spool_(std::move(spool)),
        check_(s.peer()) {}

  // The next batch of checked entries into `batch` (cleared first); false once the listing
  // has ended (LIST_END checked against what came).
  bool Next(std::vector<Entry>& batch) {
    batch.clear();
    while (batch.empty()) {
      if (ReadSpooled(batch)) continue;
      if (end_) return false;
      if (!Receive(batch, nullptr)) return false;
    }
    return true;
  }

  // Receives the rest of the listing into the spool, so that the session is free for the
  // merge's requests; nothing has been written to the target before this returns (the plan's
  // chunks so far changed nothing), so a listing that breaks the rules stops the merge first.
  void Drain() {
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

  bool ended() const { return end_.has_value(); }
  const ListEnd& end() const { return *end_; }

 private:
  // One frame of the listing: ENTRIES checked and decoded into `batch` (its payload kept in
  // `*payload` when asked), true; LIST_END checked, false. Heartbeats (no entries) skipped.
  bool Receive(std::vector<Entry>& batch, std::string* payload) {
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

  void Spool(std::string& buf) {
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

  // The next spooled batch (payloads checked when they arrived), false when none is left.
  bool ReadSpooled(std::vector<Entry>& batch) {
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

  void ReadAt(char* p, size_t n) {
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

  AgentSession& s_;
  std::string display_, spool_dir_;
  Fd spool_;
  ListChecker check_;
  uint64_t bytes_ = 0;
  std::optional<ListEnd> end_;
  uint64_t write_off_ = 0, read_off_ = 0;
};

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

AgentSource::~AgentSource() = default;

void AgentSource::BeforeWriting() {
  if (listing_) listing_->Drain();
}

std::unique_ptr<sync::TreeStream> AgentSource::Stream(bool with_hashes) {
  Fd spool = SpoolFile(spool_dir_);
  uint8_t flags = kListCheckReadable | (with_hashes ? kListHashes : 0);  // unreadable files: refused up front
  s_.Send(Type::kList, EncodeList({root_, flags}));
  listing_ = std::make_shared<Listing>(s_, display_, spool_dir_, std::move(spool));
  return std::make_unique<ListingStream>(listing_);
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

// The librsync signature of the open file `fd`, the block and hash lengths as librsync
// recommends for its size.
std::string Signature(int fd, uint64_t size, const std::string& what) {
  rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
  size_t block_len = 0, strong_len = 0;
  if (rs_sig_args(static_cast<rs_long_t>(size), &magic, &block_len, &strong_len) != RS_DONE)
    Fail("librsync cannot size a signature for " + what);
  rs_job_t* job = rs_sig_begin(block_len, strong_len, magic);
  std::unique_ptr<rs_job_t, decltype(&rs_job_free)> hold(job, rs_job_free);
  std::string sig, in(1 << 16, '\0'), out(1 << 16, '\0');
  size_t in_len = 0, in_pos = 0;
  bool eof = false;
  while (true) {
    if (in_pos == in_len && !eof) {
      in_len = ReadFd(fd, in.data(), in.size(), what.c_str());
      in_pos = 0;
      eof = in_len == 0;
    }
    rs_buffers_t b{};
    b.next_in = in.data() + in_pos;
    b.avail_in = in_len - in_pos;
    b.eof_in = eof;
    b.next_out = out.data();
    b.avail_out = out.size();
    rs_result r = rs_job_iter(job, &b);
    in_pos = in_len - b.avail_in;
    sig.append(out.data(), out.size() - b.avail_out);
    if (r == RS_DONE) return sig;
    if (r != RS_BLOCKED) Fail("librsync failed on " + what + ": " + rs_strerror(r));
  }
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
  std::string sig = Signature(basis.get(), static_cast<uint64_t>(st.st_size), display_ + "/" + r.src->path);
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
  rs_job_t* job = nullptr;
  if (req.delta) {
    basis_fd = open_basis_(e);
    if (!basis_fd.valid()) Fail("the target's copy of " + e.path + " went away during the merge");
    struct stat st {};
    ::fstat(basis_fd.get(), &st);
    basis = {basis_fd.get(), static_cast<uint64_t>(st.st_size), peer};
    job = rs_patch_begin(CopyFromBasis, &basis);
  }
  std::unique_ptr<rs_job_t, decltype(&rs_job_free)> hold(job, rs_job_free);
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
  std::string out(kMaxChunk, '\0');
  bool patch_done = !req.delta;
  while (true) {
    f = s_.Receive();
    if (f.type == Type::kData) {
      if (!req.delta) {
        write_out(f.payload.data(), f.payload.size());
        continue;
      }
      if (patch_done) Violation(peer, "delta bytes after the end of the delta of " + what);
      rs_buffers_t b{};
      b.next_in = f.payload.data();
      b.avail_in = f.payload.size();
      while (true) {
        b.next_out = out.data();
        b.avail_out = out.size();
        rs_result r = rs_job_iter(job, &b);
        write_out(out.data(), out.size() - b.avail_out);
        if (r == RS_DONE) {
          patch_done = true;
          if (b.avail_in != 0) Violation(peer, "bytes after the end of the delta of " + what);
          break;
        }
        if (basis.bad) Violation(peer, "a delta for " + what + " that copies from outside the target's copy");
        if (r != RS_BLOCKED) Violation(peer, "a delta for " + what + " that librsync rejects: " + rs_strerror(r));
        if (b.avail_in == 0 && b.avail_out != 0) break;  // needs the next DATA frame
      }
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
