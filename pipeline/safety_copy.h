// The safety copy step: what the target had, kept before anything changes, so that a failed
// or unwanted run can be rolled back: data.backup/ (hard links) and target-db.dump (or
// target-cluster.tar.gz).
#pragma once

#include <cstdint>
#include <functional>
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
};

// What the step kept.
struct SafetyCopyResult {
  bool backup_done = false, dump_done = false;
  bool backup_reused = false, dump_reused = false;  // kept from an interrupted run
  std::string detail;                               // one line for the report
};

// Takes the safety copy, or resumes an interrupted one from run_dir/state.json. data.backup/
// is built as data.backup.partial/ and renamed once complete and durable: a data.backup/ is
// never removed or rebuilt. Throws mig::Error when state.json is damaged (nothing removed),
// when a data.backup/ exists without a state.json to vouch for it, or when a part fails;
// `state` is kept up to date so that the caller's rollback hints name what exists.
SafetyCopyResult SafetyCopy(const SafetyCopyInput& in, RunState& state);

}  // namespace mig
