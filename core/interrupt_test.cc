// SIGTERM under an InterruptGuard, in a child process of the test: armed, it is taken by the
// watcher and the command stops where it asks; not armed, it ends the process as without a guard.
#include "core/interrupt.h"

#include <sys/wait.h>
#include <csignal>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "core/error.h"

namespace mig {

namespace {

// Runs `body` in a child process and returns its wait status.
int InChild(void (*body)()) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // As a command starts: the default dispositions, not the test runner's own handlers (which
    // would report the child's signal as a failed test of its own).
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    body();
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// A signal to this process, then the time the watcher needs to take it.
void SignalSelf(int sig) {
  ::kill(::getpid(), sig);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
}

}  // namespace

TEST_CASE("interrupt: an armed guard takes SIGTERM and the command stops where it asks") {
  const int status = InChild([] {
    InterruptGuard guard;
    SignalSelf(SIGTERM);
    try {
      InterruptGuard::StopIfInterrupted();
    } catch (const Error& e) {
      ::_exit(std::string(e.what()) == "interrupted (SIGTERM)" ? 3 : 4);
    }
    ::_exit(5);
  });
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
}

TEST_CASE("interrupt: a guard not armed yet lets SIGTERM end the process; armed, it takes it") {
  const int before = InChild([] {
    InterruptGuard guard(false);
    std::thread other([] { std::this_thread::sleep_for(std::chrono::milliseconds(500)); });  // blocks it too
    SignalSelf(SIGTERM);
    other.join();
    ::_exit(5);  // not reached: the signal ended the process
  });
  CHECK(WIFSIGNALED(before));
  CHECK((WIFSIGNALED(before) && WTERMSIG(before) == SIGTERM));
  const int after = InChild([] {
    InterruptGuard guard(false);
    guard.Arm();
    SignalSelf(SIGINT);
    ::_exit(InterruptGuard::Said() == "interrupted (SIGINT)" ? 3 : 4);
  });
  REQUIRE(WIFEXITED(after));
  CHECK(WEXITSTATUS(after) == 3);
}

}  // namespace mig
