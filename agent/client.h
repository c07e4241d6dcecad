// The receiver's side of the agent protocol (docs/protocol.md): a session on a Transport, and
// AgentSource, the merge's Source for a tree the agent lists and sends.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "agent/frame.h"
#include "agent/transport.h"
#include "agent/wire.h"
#include "core/process.h"
#include "sync/source.h"

namespace mig::agent {

// How long the receiver waits for the agent's next byte before it gives up.
inline constexpr int kIdleTimeoutMs = 300 * 1000;
// Requests in flight (sent, answers not yet taken): at most this many files and bytes.
inline constexpr size_t kWindowFiles = 1024;
inline constexpr uint64_t kWindowBytes = 32ull << 20;
// Answers read ahead of the frame being consumed, at most (the agent then waits).
inline constexpr size_t kMaxBuffered = 8u << 20;
// ... and while our own requests wait to be taken (past that, the agent is not reading).
inline constexpr size_t kMaxOverCap = 64u << 20;
// The listing's spool stops when less than this is left beside the target.
inline constexpr uint64_t kMinFreeForSpool = 256ull << 20;
// Files smaller than this travel whole even when the target has an older copy.
inline constexpr uint64_t kMinDeltaSize = 64 << 10;

// One conversation with an agent: framed messages both ways, pumped from one thread.
class AgentSession {
 public:
  explicit AgentSession(std::unique_ptr<Transport> t);
  ~AgentSession();
  // Exchanges HELLO; throws when the far side speaks another protocol or version.
  const Hello& Handshake(const std::string& my_version);
  // Queues a frame; it goes out as the stream takes it (Send pumps when much is queued).
  void Send(Type type, std::string_view payload, bool compress = false);
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
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

 private:
  // Pumps until at most `queued_at_most` bytes of ours wait to be sent (bounded in memory and time).
  void WaitSent(size_t queued_at_most);
  // Moves bytes both ways; with `block`, waits (bounded) until something moved.
  void Pump(bool block, bool over_cap = false);
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
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
};

// A program the agent runs on its host (RUN): its stdout read through the session, no stdin.
// Nothing else may use the session until the program's end has been read (wait()). kill()
// abandons the session.
std::unique_ptr<Proc> RunThroughAgent(AgentSession& s, const std::vector<std::string>& argv);

// The merge's source when the files are on the agent's host. The listing is checked as it
// arrives and taken by the merge as it comes; what arrives while the merge waits for files is
// spooled to an unlinked file in `spool_dir` (beside the target: never held in memory) and read
// back from there (docs/streaming-merge.md).
class AgentSource : public sync::Source {
 public:
  AgentSource(AgentSession& s, std::string root, std::string display, std::string spool_dir);
  ~AgentSource() override;
  std::unique_ptr<sync::TreeStream> Stream(bool with_hashes) override;
  // The entry count and the bytes of the tree, without its listing (LIST, totals only).
  ListEnd Totals();
  // Receives the rest of the listing (into the spool): the agent answers requests only after it.
  void BeforeWriting() override;
  void Prepare(const sync::Plan& plan, const sync::OpenBasis& open_basis) override;
  sync::CopyResult CopyTo(const sync::Entry& e, int out_fd) override;
  sync::Hash128 HashOf(const sync::Entry& e) override;
  std::string Describe() const override { return display_; }
  uint64_t delta_files() const { return delta_files_; }

  class Listing;

 private:
  // One GET: which file, whole or delta; `index` numbers the requests of a session.
  struct Request {
    uint32_t index;
    const sync::Entry* src;
    bool delta;
  };
  void TopUp();
  static uint64_t Weight(const Request& r);
  void SendRequest(const Request& r);
  AgentSession& s_;
  std::string root_, display_, spool_dir_;
  uint32_t next_index_ = 0;
  std::vector<Request> reqs_;
  size_t sent_ = 0, taken_ = 0;
  uint64_t in_flight_bytes_ = 0;
  sync::OpenBasis open_basis_;
  uint64_t delta_files_ = 0;
  std::shared_ptr<Listing> listing_;  // of the last Stream()
};

}  // namespace mig::agent
