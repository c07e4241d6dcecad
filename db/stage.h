// Where CopyCluster stages the source's cluster and swaps it in (db/ only; docs/physical-db.md):
// inside the target's container through docker (stage_container.cc), or in the data
// directory's folder on this host (stage_host.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "db/physical.h"
#include "db/postgres.h"

namespace mig::db {

class ClusterStage {
 public:
  virtual ~ClusterStage() = default;
  // The source's base backup into the stage, the target still running; returns the bytes that
  // crossed (compressed). Throws mig::Error naming the side that failed.
  virtual uint64_t Fill(const Postgres& src, const std::function<void(uint64_t)>& progress) = 0;
  // The staged copy checked against its manifest; throws mig::Error when it does not verify.
  virtual void Verify() = 0;
  // What the swap needs, made while the target still runs (its time is then not downtime).
  virtual void Prepare(bool standby) = 0;
  enum class Swapped { kDone, kRefused, kUnknown };
  // The target stopped: the stage swapped in. kRefused: nothing touched (`why` says why);
  // kUnknown: it may still be under way (never start the target beside it); throws when it
  // failed part way.
  virtual Swapped Swap(std::string& why) = 0;
  // After the target started on the copy: what the swap set aside, removed (best effort).
  virtual void Finish() {}
  // The stage and what Prepare made removed (best effort): the copy is given up.
  virtual void Drop() = 0;
  // "gzip" or "zstd": how the base backup crossed.
  virtual std::string compression() const = 0;
};

// The stage for `home`: written by the source's pg_basebackup and moved over when `source` is
// given (REQUIRES PlainCopyCanBeMoved(*source, home): the caller asked); on this host when
// home.here names its folder (stage_host.cc); else in the container (StageInContainer).
// `source` (may be null) outlives it.
std::unique_ptr<ClusterStage> StageFor(const Postgres& dst, const ClusterHome& home, const ClusterHome* source);
std::unique_ptr<ClusterStage> StageInContainer(const Postgres& dst, const ClusterHome& home);

}  // namespace mig::db
