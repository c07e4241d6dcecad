// The listing of an AgentSource as it arrives (docs/streaming-merge.md): checked frame by frame,
// taken by the merge as it comes, the rest spooled to an unlinked file beside the target.
// Internal to the receiver: agent/source.cc and agent/listing.cc use it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/session.h"
#include "agent/source.h"
#include "agent/wire.h"
#include "core/fd.h"
#include "sync/source.h"

namespace mig::agent {

// The listing's spool stops when less than this is left beside the target.
inline constexpr uint64_t kMinFreeForSpool = 256ull << 20;

// An unlinked temporary file in `dir`: it vanishes with the process, whatever happens.
// Throws mig::Error naming `dir` when it cannot be made.
Fd SpoolFile(const std::string& dir);

// A listing as it arrives (docs/streaming-merge.md): each ENTRIES frame is checked on arrival.
// The merge takes the batches as they come, so it walks the target while the agent walks the
// source; what arrives while the merge waits for files (Drain) goes to the spool first, and is
// read back from there in order. Holds a reference to the session: the session must outlive it.
// Owns `spool`. Not thread-safe (the session's thread drives it).
class AgentSource::Listing {
 public:
  Listing(AgentSession& s, std::string display, std::string spool_dir, Fd spool);

  // The next batch of checked entries into `batch` (cleared first); false once the listing
  // has ended (LIST_END checked against what came).
  bool Next(std::vector<sync::Entry>& batch);

  // Receives the rest of the listing into the spool, so that the session is free for the
  // merge's requests; nothing has been written to the target before this returns (the plan's
  // chunks so far changed nothing), so a listing that breaks the rules stops the merge first.
  void Drain();

  bool ended() const { return end_.has_value(); }
  // REQUIRES: ended().
  const ListEnd& end() const { return *end_; }

 private:
  // One frame of the listing: ENTRIES checked and decoded into `batch` (its payload kept in
  // `*payload` when asked), true; LIST_END checked, false. Heartbeats (no entries) skipped.
  bool Receive(std::vector<sync::Entry>& batch, std::string* payload);
  // Appends `buf` to the spool (and clears it); stops when the target's disk runs low.
  void Spool(std::string& buf);
  // The next spooled batch (payloads checked when they arrived), false when none is left.
  bool ReadSpooled(std::vector<sync::Entry>& batch);
  void ReadAt(char* p, size_t n);

  AgentSession& s_;
  std::string display_, spool_dir_;
  Fd spool_;
  ListChecker check_;
  uint64_t bytes_ = 0;
  std::optional<ListEnd> end_;
  uint64_t write_off_ = 0, read_off_ = 0;
};

// The merge's view of a listing: its batches, one entry at a time. Shares the listing.
std::unique_ptr<sync::TreeStream> MakeListingStream(std::shared_ptr<AgentSource::Listing> l);

}  // namespace mig::agent
