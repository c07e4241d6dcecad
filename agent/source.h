// AgentSource: the merge's sync::Source for a tree on the agent's host (docs/remote.md,
// docs/streaming-merge.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/block_delta.h"
#include "agent/session.h"
#include "agent/wire.h"
#include "sync/source.h"

namespace mig::agent {

// Requests in flight (sent, answers not yet taken): at most this many files and bytes.
inline constexpr size_t kWindowFiles = 1024;
inline constexpr uint64_t kWindowBytes = 32ull << 20;
// Files smaller than this travel whole even when the target has an older copy: one block,
// nothing a delta could save (a file of 4 KiB with 100 bytes appended travels as ~150 bytes).
inline constexpr uint64_t kMinDeltaSize = kMinBlock;

// The merge's source when the files are on the agent's host. The listing is checked as it
// arrives and taken by the merge as it comes; what arrives while the merge waits for files is
// spooled to an unlinked file in `spool_dir` (beside the target: never held in memory) and read
// back from there (docs/streaming-merge.md).
// Holds a reference to its AgentSession: the session must outlive the source (and the streams
// it returns). Not thread-safe, like the session: the thread that drives the session calls it.
class AgentSource : public sync::Source {
 public:
  AgentSource(AgentSession& s, std::string root, std::string display, std::string spool_dir);
  ~AgentSource() override;
  // Sends LIST; the stream yields the checked entries as they arrive.
  std::unique_ptr<sync::TreeStream> Stream(bool with_hashes) override;
  // The entry count and the bytes of the tree, without its listing (LIST, totals only).
  // REQUIRES: no listing in progress.
  ListEnd Totals();
  // Receives the rest of the listing (into the spool): the agent answers requests only after it.
  void BeforeWriting() override;
  // Queues one GET per file the plan copies, in plan order (a delta where the target has an
  // older copy of at least kMinDeltaSize). REQUIRES: the listing received (BeforeWriting), unless
  // the plan changes nothing. `plan` must outlive the copies (requests point into its items).
  void Prepare(const sync::Plan& plan, const sync::OpenBasis& open_basis) override;
  // REQUIRES: `e` is the plan's next file to copy (CopyTo follows the plan's order).
  sync::CopyResult CopyTo(const sync::Entry& e, int out_fd) override;
  sync::Hash128 HashOf(const sync::Entry& e) override;
  std::string Describe() const override { return display_; }
  uint64_t delta_files() const { return delta_files_; }

  // The listing as it arrives (agent/listing.h).
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
