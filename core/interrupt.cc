#include "core/interrupt.h"

#include <pthread.h>

#include <atomic>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "core/process.h"

namespace mig {

namespace {
std::atomic<int> g_signal{0};
std::atomic<bool> g_closing{false};
std::atomic<int> g_held{0};
std::atomic<bool> g_armed{true};

std::string SignalName(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal " + std::to_string(sig);
}
}  // namespace

InterruptGuard::InterruptGuard(bool armed) {
  g_armed = armed;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, &old_);
  g_closing = false;
  watcher_ = std::thread([set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (g_closing) return;
      if (!g_armed) {  // as without a guard: the signal's own action (it ends the process)
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        raise(sig);
        pthread_sigmask(SIG_BLOCK, &one, nullptr);  // a handled or ignored one: watched again
        continue;
      }
      const bool again = g_signal.exchange(sig) != 0;
      const std::string name = SignalName(sig);
      if (g_held > 0 && !again) {
        TheLog().warn("interrupted (" + name + ") where the command cannot stop half-way: it finishes this part "
                      "first (a second signal stops it at once)");
        continue;
      }
      TheLog().warn(std::string(again ? "interrupted again (" : "interrupted (") + name +
                    "): stopping what runs, then putting the install back");
      TerminateChildren(again ? SIGKILL : SIGTERM);
    }
  });
}

InterruptGuard::~InterruptGuard() {
  g_closing = true;
  pthread_kill(watcher_.native_handle(), SIGTERM);  // thread-directed: its sigwait takes it
  watcher_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void InterruptGuard::Arm() { g_armed = true; }

int InterruptGuard::Signal() { return g_signal; }

InterruptGuard::Hold::Hold() { ++g_held; }
InterruptGuard::Hold::~Hold() { --g_held; }

std::string InterruptGuard::Said() {
  const int sig = g_signal;
  if (!sig) return "";
  return "interrupted (" + SignalName(sig) + ")";
}

void InterruptGuard::StopIfInterrupted() {
  if (g_signal) Fail(Said());
}

}  // namespace mig
