// SIGTERM and SIGINT turned into an orderly stop: while an InterruptGuard lives, the signals
// are taken by a thread of its own, which stops the programs the command runs (restic,
// pg_dump, docker: TerminateChildren); the command then fails where it stood and unwinds, its
// guards putting back what it changed (e.g. the services `backup create --suspend` stopped).
#pragma once

#include <csignal>
#include <string>
#include <thread>

namespace mig {

class InterruptGuard {
 public:
  // Construct before the command starts threads (they inherit the blocked signals). Not
  // `armed`: until Arm(), a signal ends the process as it would without a guard (a command that
  // opens connections with threads of their own before its prompt: Ctrl-C there ends it).
  explicit InterruptGuard(bool armed = true);
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  // From now on a signal stops the command in order (above).
  void Arm();
  // The signal that came (SIGTERM, SIGINT), 0 when none.
  static int Signal();
  // "interrupted (SIGTERM)", "" when no signal came.
  static std::string Said();
  // Throws mig::Error ("interrupted (SIGTERM)") when a signal came: a command calls it where it
  // would start something long or change what cannot be put back, since the watcher stops only
  // the programs running when the signal comes.
  static void StopIfInterrupted();

  // While one lives, a signal only is recorded (Signal(), Said()): the programs running are not
  // stopped, so that a step that cannot be cut in the middle (a database swap, what follows it)
  // ends. A second signal stops them all the same (SIGKILL).
  class Hold {
   public:
    Hold();
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
  };

 private:
  sigset_t old_{};
  std::thread watcher_;
};

}  // namespace mig
