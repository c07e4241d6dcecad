// Questions asked of a host at once, in one program, before the steps that ask them one at a
// time: where each program costs a round trip (the old server's agent runs one program at a
// time), the answers are waiting when the steps ask (docs/remote.md "Questions asked at once").
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig {

// The one-line sh script that runs each argv in the background (stdin /dev/null), waits for
// all, and prints for each, in order: "INDEX CODE OUT_BYTES ERR_BYTES\n", its stdout, its stderr.
std::string PrefetchScript(const std::vector<std::vector<std::string>>& argvs);
// The answers in that output, one per argv; nullopt when it is not what the script prints
// (then nothing is taken from it).
std::optional<std::vector<ProcResult>> ParsePrefetchOutput(const std::string& out, size_t count);

// A Host in front of another (`inner`, which outlives it). Prefetch runs the argvs given in one
// program (PrefetchScript) on the inner host and keeps each answer; the first Run of the same
// argv, with no input, within kFresh of the prefetch takes that answer instead of running the
// program. Each answer is taken once; everything else goes to the inner host, and so does a
// program the script could not start (exit 127: the inner host says that its own way).
// Thread-safe.
class PrefetchHost : public HostInFront {
 public:
  static constexpr std::chrono::seconds kFresh{30};
  using HostInFront::HostInFront;

  // Returns whether the answers were kept (a failed or garbled run keeps none: the steps then
  // ask as before). `max_script`: when not 0, a script longer than that many bytes is not run
  // (the agent ends on a RUN argument over its limit).
  bool Prefetch(const std::vector<std::vector<std::string>>& argvs, std::chrono::seconds timeout,
                size_t max_script = 0);
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input = {},
                 std::chrono::seconds timeout = std::chrono::seconds(0)) const override;
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    return inner_.Start(argv, pipes);
  }
  // Answers kept and not taken yet.
  size_t waiting() const;

 private:
  mutable std::mutex mu_;
  mutable std::map<std::vector<std::string>, ProcResult> answers_;
  std::chrono::steady_clock::time_point at_;
};

}  // namespace mig
