// The receiver's end of one agent conversation (docs/protocol.md): framed messages both ways
// on a Transport, pumped from one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/frame.h"
#include "agent/transport.h"
#include "agent/wire.h"

namespace mig::agent {

// How long the receiver waits for the agent's next byte before it gives up.
inline constexpr int kIdleTimeoutMs = 300 * 1000;
// Answers read ahead of the frame being consumed, at most (the agent then waits).
inline constexpr size_t kMaxBuffered = 8u << 20;
// ... and while our own requests wait to be taken (past that, the agent is not reading).
inline constexpr size_t kMaxOverCap = 64u << 20;
// When the agent takes no more of our writes (it exited): how long what it sent before it went
// is awaited, at most (an agent that has exited sends its end at once).
inline constexpr int kLastWordsMs = 5 * 1000;

// One conversation with an agent: framed messages both ways, pumped from one thread.
// Not thread-safe: one thread drives it (every call pumps the stream both ways). It owns its
// Transport; what uses the session (AgentSource, RunThroughAgent's Proc) holds a reference
// to it, so the session must outlive them.
class AgentSession {
 public:
  explicit AgentSession(std::unique_ptr<Transport> t);
  ~AgentSession();
  // Exchanges HELLO; throws when the far side speaks another protocol or version.
  const Hello& Handshake(const std::string& my_version);
  // Queues a frame; it goes out as the stream takes it (Send pumps when much is queued).
  void Send(Type type, std::string_view payload, bool compress = false);
  // Sends what is queued now (the agent sees a request before its answer is asked for).
  void Flush() { WaitSent(0); }
  // The next frame from the agent; an ERROR frame or the end of the stream throws mig::Error.
  Frame Receive();
  // Says BYE and waits for the agent to end.
  void Close();
  // Drops the connection at once (the agent and what it runs die of it); nothing works after.
  void Abandon();
  bool abandoned() const { return !t_; }
  const std::string& peer() const { return peer_; }
  const Hello& hello() const { return hello_; }
  // When the far side printed text instead of frames: that text (printable), else "".
  const std::string& not_agent_text() const { return not_agent_text_; }
  // The bytes moved so far; readable from any thread while another pumps.
  uint64_t bytes_in() const { return bytes_in_.load(std::memory_order_relaxed); }
  uint64_t bytes_out() const { return bytes_out_.load(std::memory_order_relaxed); }

 private:
  // Pumps until at most `queued_at_most` bytes of ours wait to be sent (bounded in memory and time).
  void WaitSent(size_t queued_at_most);
  // Moves bytes both ways; with `block`, waits (bounded) until something moved.
  void Pump(bool block, bool over_cap = false);
  // The next whole frame read, if any; bytes that are not frames before the first frame throw
  // NotAnAgent's error, after it the decoder's.
  std::optional<Frame> NextFrame();
  // The agent takes no more (a write found it gone): reads what it sent before it went, within
  // kMaxOverCap bytes and kLastWordsMs, and throws what tells why: its ERROR frame, its text
  // when it is not an agent, else how it ended (exit status, stderr).
  [[noreturn]] void StoppedReading();
  // Throws the message of the agent's ERROR frame `f`.
  [[noreturn]] void AgentFailed(const Frame& f);
  // How the far side ended (after the end of its stream), control characters as '?'.
  std::string EndReason();
  [[noreturn]] void NotAnAgent();
  std::unique_ptr<Transport> t_;
  std::string peer_;
  FrameDecoder dec_;
  std::string out_;
  size_t out_pos_ = 0;
  bool ended_ = false;
  bool got_frame_ = false;
  std::string not_agent_text_;
  Hello hello_;
  std::atomic<uint64_t> bytes_in_{0}, bytes_out_{0};
};

}  // namespace mig::agent
