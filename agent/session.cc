// AgentSession: one conversation with an agent, its frames pumped both ways from one thread.
#include "agent/session.h"

#include <chrono>
#include <optional>

#include "core/error.h"

namespace mig::agent {

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
    long n = t_->WriteSome(out_.data() + out_pos_, out_.size() - out_pos_);
    if (n < 0) StoppedReading();
    if (n == 0) break;
    out_pos_ += static_cast<size_t>(n);
    bytes_out_ += static_cast<uint64_t>(n);
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
    if (std::optional<Frame> f = NextFrame()) {
      if (f->type == Type::kError) AgentFailed(*f);
      return std::move(*f);
    }
    if (ended_) {
      if (!got_frame_ && dec_.buffered() != 0) NotAnAgent();
      if (dec_.buffered() != 0) Violation(peer_, "the stream ends in the middle of a frame");
      Fail(peer_ + " ended the connection: " + EndReason());
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

std::optional<Frame> AgentSession::NextFrame() {
  std::optional<Frame> f;
  try {
    f = dec_.Next();
  } catch (const Error&) {
    if (got_frame_) throw;
    NotAnAgent();
  }
  if (f) got_frame_ = true;
  return f;
}

void AgentSession::StoppedReading() {
  out_.clear(), out_pos_ = 0;  // nothing more can go
  // An agent that exits early (one that fails, or a shell that prints instead of running it)
  // may go before our write; what it sent first, not the failed write, says why.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLastWordsMs);
  uint64_t taken = 0;
  char buf[1 << 16];
  while (true) {
    while (std::optional<Frame> f = NextFrame())  // answers to what we asked: moot now
      if (f->type == Type::kError) AgentFailed(*f);
    if (ended_ || taken > kMaxOverCap || std::chrono::steady_clock::now() > deadline) break;
    long n = t_->ReadSome(buf, sizeof buf);
    if (n < 0) {
      ended_ = true;
    } else if (n == 0) {
      t_->Wait(false, 100);
    } else {
      dec_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      bytes_in_ += static_cast<uint64_t>(n);
      taken += static_cast<uint64_t>(n);
    }
  }
  if (!got_frame_ && dec_.buffered() != 0) NotAnAgent();
  if (!ended_)
    Fail(peer_ + " stopped reading, and did not end its output within " + std::to_string(kLastWordsMs / 1000) +
         " s or " + std::to_string(kMaxOverCap >> 20) + " MiB");
  Fail(peer_ + " stopped reading: " + EndReason());
}

void AgentSession::AgentFailed(const Frame& f) {
  PayloadReader r(f.payload, peer_);
  bool bad_input = r.U8() != 0;
  std::string msg = Printable(r.LStr(kMaxMessage), 2000);
  if (bad_input) BadInput(peer_ + ": " + msg);
  Fail(peer_ + " failed: " + msg);
}

std::string AgentSession::EndReason() {
  std::string why = t_->EndReason();  // bounded by the transport (its stderr's tail)
  for (char& c : why)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) c = '?';
  return why;
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

}  // namespace mig::agent
