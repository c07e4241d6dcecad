// The safety copy step: what the target had, kept before anything changes, so that a failed
// or unwanted run can be rolled back: data.backup/ (hard links) and target-db.dump (or
// target-cluster.tar.gz).
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "pipeline/run_state.h"

namespace mig {

// What the step works on: plain values, no docker (the dump is a function).
struct SafetyCopyInput {
  std::string run_dir;   // migration/<timestamp>: state.json, data.backup/, target-db.dump
  std::string data_dir;  // the target's data/; "" when data/ is not part of the run
  // Writes the target database's dump to the path it is given and returns its size; empty
  // when the database is not part of the run.
  std::function<uint64_t(const std::string& path)> dump_target;
  // The dump's file in run_dir: target-db.dump (pg_dump -Fc), or target-cluster.tar.gz (a base
  // backup of the whole cluster: the physical path, docs/physical-db.md).
  std::string dump_name = "target-db.dump";
  // The dump is always taken on a thread beside the data/ snapshot. With `dump_later` the step
  // returns without waiting for it (SafetyCopyResult::pending): the caller waits before the
  // target database changes (the replay's swap), so that the dump overlaps the merge and the
  // staging replay. Without it the step waits.
  bool dump_later = false;
};

// The target database's dump still being taken (dump_later). Not thread-safe: one owner.
class PendingDump {
 public:
  PendingDump(std::future<uint64_t> dump, std::string state_file, RunState& state)
      : dump_(std::move(dump)), state_file_(std::move(state_file)), state_(state) {}
  PendingDump(const PendingDump&) = delete;
  PendingDump& operator=(const PendingDump&) = delete;
  // Waits for the dump and records it in state.json (dump_done); returns its size. Throws what
  // the dump threw (state.json then does not claim it), and again on each later call. Once it
  // returned, returns that size again.
  uint64_t Wait();
  // Waits for a dump not waited for (the run failed before), ignoring how it ended.
  ~PendingDump();

 private:
  std::future<uint64_t> dump_;
  std::string state_file_;
  RunState& state_;
  std::optional<uint64_t> bytes_;
  std::exception_ptr failed_;
};

// What the step kept.
struct SafetyCopyResult {
  bool backup_done = false, dump_done = false;
  bool backup_reused = false, dump_reused = false;  // kept from an interrupted run
  std::string detail;                               // one line for the report
  // dump_later: the dump being taken; wait for it before the target database changes. Null
  // when there is no dump to take (none asked, or kept from an interrupted run).
  std::unique_ptr<PendingDump> pending;
};

// Takes the safety copy, or resumes an interrupted one from run_dir/state.json. data.backup/
// is built as data.backup.partial/ and renamed once complete and durable: a data.backup/ is
// never removed or rebuilt. Throws mig::Error when state.json is damaged (nothing removed),
// when a data.backup/ exists without a state.json to vouch for it, or when a part fails;
// `state` is kept up to date so that the caller's rollback hints name what exists.
SafetyCopyResult SafetyCopy(const SafetyCopyInput& in, RunState& state);

}  // namespace mig
