// SIGTERM and SIGINT turned into an orderly stop: while an InterruptGuard lives, the signals
// are taken by a thread of its own, which stops the programs the command runs (restic,
// pg_dump, docker: TerminateChildren); the command then fails where it stood and unwinds, its
// guards putting back what it changed (e.g. the services `backup create --suspend` stopped).
#pragma once

#include <csignal>
#include <thread>

namespace mig {

class InterruptGuard {
 public:
  // Construct before the command starts threads (they inherit the blocked signals).
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  // The signal that came (SIGTERM, SIGINT), 0 when none.
  static int Signal();

 private:
  sigset_t old_{};
  std::thread watcher_;
};

}  // namespace mig
