// Stand-ins for this machine's programs: a Host that records what each program was asked and
// answered (MIGRATE_RECORD_PROGRAMS=FILE), and one that replays such a recording, so that the
// pipeline's order and failure paths are tested without docker (tests/data/pipeline/).
//
// Recording format: one JSON object per line, in call order (docs/pipeline.md "Tested without docker"):
//   {"seq": 0, "kind": "run", "argv": [...], "code": 0, "out": TEXT, "err": TEXT}
//   {"seq": 1, "kind": "start", "argv": [...], "pipes": 3, "reads": [TEXT...], "code": 0, "err": TEXT}
// seq orders the calls as they began (a started program's line is written when it ends); "ms"
// is how long it took (for profiling fixed costs: bench/fixed.sh).
// TEXT is a string, or {"hex": "..."} for bytes that are not UTF-8. Paths under the recording's
// root are written as "@ROOT@" so that a replay can run under another folder.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig {

// Records every program `inner` runs into `file` (appended, one line per call). Thread-safe.
class RecordingHost : public HostInFront {
 public:
  RecordingHost(const Host& inner, std::string file, std::string root);
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                 std::chrono::seconds timeout = std::chrono::seconds(0)) const override;
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override;
  // Appends one record (called by the recording Proc when its program ends).
  void Append(const std::string& line) const;
  uint64_t NextSeq() const;
  std::string Abstract(const std::string& s) const;  // root -> @ROOT@

 private:
  std::string file_, root_;
  mutable std::mutex mu_;
  mutable uint64_t seq_ = 0;  // calls in the order they began (a started one is written when it ends)
};

// Answers programs from a recording. A call is matched by its argv (after @ROOT@ is replaced
// by `root`); calls with the same argv consume their records in order, the last one repeating.
// Thread-safe (the pipeline probes both sides at once); its accessors are for after the run.
class ReplayHost : public Host {
 public:
  // What a test makes a matching call answer instead of the recording.
  struct Fault {
    std::function<bool(const std::vector<std::string>& argv)> when;
    int code = 1;
    std::string err;
  };

  // What started programs were sent, shared with them (they may write from other threads).
  struct Inputs {
    std::mutex mu;
    std::vector<std::string> lines;
  };

  ReplayHost(const std::string& file, std::string root);
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                 std::chrono::seconds timeout = std::chrono::seconds(0)) const override;
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override;
  std::string Describe() const override { return "this machine (replayed)"; }
  bool local() const override { return true; }

  void AddFault(Fault f) { faults_.push_back(std::move(f)); }
  // Every program asked for, in order, and what was written to the stdin of started ones.
  const std::vector<std::string>& calls() const { return calls_; }
  const std::vector<std::string>& inputs() const { return inputs_->lines; }
  // Calls no record answered (a test asserts this is empty).
  const std::vector<std::string>& misses() const { return misses_; }

 private:
  // One recorded call.
  struct Record {
    uint64_t seq = 0;
    std::string kind;  // "run" or "start"
    std::vector<std::string> argv;
    int code = -1;
    std::string out, err;
    std::vector<std::string> reads;  // a started program's stdout, in the pieces read
  };
  const Record* Find(const std::vector<std::string>& argv, const char* kind) const;
  const Fault* FaultFor(const std::vector<std::string>& argv) const;
  std::vector<Record> records_;
  mutable std::vector<size_t> used_;
  std::vector<Fault> faults_;
  mutable std::mutex mu_;
  mutable std::vector<std::string> calls_, misses_;
  std::shared_ptr<Inputs> inputs_;
};

// Makes ThisHost() answer with `host` for the life of this object (tests; the recorder). Set
// before other threads run programs.
class ThisHostOverride {
 public:
  explicit ThisHostOverride(const Host& host);
  ~ThisHostOverride();
  ThisHostOverride(const ThisHostOverride&) = delete;
  ThisHostOverride& operator=(const ThisHostOverride&) = delete;

 private:
  const Host* previous_;
};

// The real machine, whatever override is in place (what a RecordingHost wraps).
const Host& RealThisHost();

}  // namespace mig
