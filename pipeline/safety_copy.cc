#include "pipeline/safety_copy.h"

#include <filesystem>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "pipeline/run_state.h"
#include "sync/apply.h"

namespace fs = std::filesystem;

namespace mig {

uint64_t PendingDump::Wait() {
  if (bytes_) return *bytes_;
  if (failed_) std::rethrow_exception(failed_);
  uint64_t n = 0;
  try {
    n = dump_.get();  // rethrows the dump's failure; the state then says nothing of it
  } catch (...) {
    failed_ = std::current_exception();
    throw;
  }
  try {
    state_.dump_done = true;
    state_.Save(state_file_);
  } catch (...) {  // the dump is whole, but state.json does not say so: the same again on a later call
    state_.dump_done = false;
    failed_ = std::current_exception();
    throw;
  }
  bytes_ = n;
  return n;
}

PendingDump::~PendingDump() {
  if (dump_.valid()) dump_.wait();
}

SafetyCopyResult SafetyCopy(const SafetyCopyInput& in, RunState& state) {
  const std::string state_file = in.run_dir + "/state.json";
  const std::string backup = in.run_dir + "/data.backup";
  const std::string partial = backup + ".partial";
  std::error_code ec;
  const bool had_state = fs::exists(state_file, ec);
  state = RunState::Load(state_file);  // throws on a damaged file: nothing below runs
  SafetyCopyResult r;
  std::string detail;
  const std::string dump_path = in.run_dir + "/" + in.dump_name;
  if (in.dump_target && state.dump_done && !fs::exists(dump_path, ec)) {
    const std::string other = in.dump_name == "target-db.dump" ? "target-cluster.tar.gz" : "target-db.dump";
    if (fs::exists(in.run_dir + "/" + other, ec))
      Fail("the interrupted run kept the target's database in " + in.run_dir + "/" + other + ", not " +
           in.dump_name + ": run again with the --db-method it had (" +
           (other == "target-db.dump" ? "logical" : "physical") + ")");
    Fail("state.json says the target's database was kept, but " + dump_path + " is missing: the run folder " +
         in.run_dir + " was changed by hand; move it away to start a new migration");
  }
  if (!in.data_dir.empty() && !had_state && fs::is_directory(backup, ec))
    Fail(backup + " exists but " + state_file + " does not say what it holds (a run of an older migrate?): "
         "the run stops rather than replace it; move that folder away (keep it until the target is checked) "
         "and run again");
  // The dump on a thread beside the data/ snapshot: the database and the files are apart.
  if (in.dump_target && !state.dump_done)
    r.pending = std::make_unique<PendingDump>(
        std::async(std::launch::async, [f = in.dump_target, dump_path] { return f(dump_path); }), state_file, state);
  if (in.data_dir.empty()) {
    detail = "data/ skipped";
  } else {
    const bool backup_there = fs::is_directory(backup, ec);
    if (state.backup_done || backup_there) {
      // Complete: it was renamed into place only once durable (a crash may come before the state).
      detail = "data.backup/ kept from the interrupted run";
      r.backup_reused = true;
      if (!state.backup_done) {
        state.backup_done = true;
        state.Save(state_file);
      }
    } else if (fs::is_directory(in.data_dir, ec)) {
      fs::remove_all(partial, ec);  // a half-made snapshot of an interrupted run: never data.backup/
      if (ec) Fail("cannot remove the unfinished snapshot " + partial + ": " + ec.message());
      uint64_t n = sync::HardLinkSnapshot(in.data_dir, partial);  // synced before it returns
      fs::rename(partial, backup, ec);
      if (ec) Fail("cannot rename " + partial + " to " + backup + ": " + ec.message());
      detail = "data.backup/ (" + std::to_string(n) + " entries, hard links)";
      state.backup_done = true;
      state.Save(state_file);  // fsyncs the run folder, so the rename is durable too
    } else {
      detail = "target had no data/";
      state.backup_done = true;
      state.Save(state_file);
    }
    r.backup_done = true;
  }
  if (in.dump_target) {
    if (!r.pending) {
      detail += "; " + in.dump_name + " kept from the interrupted run";
      r.dump_reused = true;
      r.dump_done = true;
    } else if (!in.dump_later) {
      detail += "; " + in.dump_name + " (" + HumanBytes(r.pending->Wait()) + ")";
      r.pending.reset();
      r.dump_done = true;
    } else {
      detail += "; " + in.dump_name + " being taken meanwhile (waited for before the database changes)";
    }
  }
  r.detail = detail;
  return r;
}

}  // namespace mig
