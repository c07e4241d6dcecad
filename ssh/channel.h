// What the exec channels share (channel.cc, remote_host.cc): how a remote command ended, and
// its outputs kept within bounds.
#pragma once

#include <cstddef>
#include <string>

typedef struct _LIBSSH2_SESSION LIBSSH2_SESSION;
typedef struct _LIBSSH2_CHANNEL LIBSSH2_CHANNEL;

namespace mig::ssh {

inline constexpr size_t kStderrTail = 1 << 20;  // stderr kept: about its last 1 MiB

// Appends to `s`, keeping between kStderrTail and twice that of its end (stderr: its end is
// what explains a failure).
void KeepTail(std::string& s, const char* p, size_t n);

// Appends to `s` when it stays within `max` bytes; false (and `s` unchanged) when it would not.
bool AppendWithin(std::string& s, const char* p, size_t n, size_t max);

// sshd runs an exec channel's command with the remote user's login shell, which need not be
// POSIX (fish, tcsh). Returns `command` as `exec /bin/sh -c '...'`, quoted so that sh, bash,
// zsh, fish and csh/tcsh all read it alike: inside single quotes only characters none of them
// treats specially there; a quote as '\'', a backslash as '\\' and a '!' as '\!' (escaped
// outside quotes: csh expands history even inside single quotes).
// A command with a newline (csh cannot quote one) is returned as it is: it then needs a POSIX
// login shell, as before.
std::string ForAnyLoginShell(const std::string& command);

// How a remote command ended, as its channel told.
struct Ending {
  bool closed = false;  // the channel closed: the exit status or signal, if any, had come
  int status = 0;       // the exit status (libssh2 says 0 when none came)
  std::string signal;   // the signal that killed it, without "SIG" ("KILL"); "" when none

  // Whether there is an exit code to trust: closed, and not killed.
  bool exited() const { return closed && signal.empty(); }
  // The exit code to hand on: the status, 128 + the signal's number when a signal killed it
  // (255 for a signal not known here), -1 when it did not close.
  int code() const;
  // "exited with status 3", "was killed by signal KILL", "ended without reporting an exit
  // status (its channel did not close)".
  std::string Describe() const;
};

// Reads how the command on `ch` ended; `closed`: its channel closed.
Ending EndingOf(LIBSSH2_SESSION* s, LIBSSH2_CHANNEL* ch, bool closed);

}  // namespace mig::ssh
