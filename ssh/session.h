// SSH to the old server with libssh2 (docs/remote.md): connect, verify the host key against
// known_hosts, authenticate with a key file or ssh-agent, run commands, open exec channels.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "agent/transport.h"
#include "core/process.h"

typedef struct _LIBSSH2_SESSION LIBSSH2_SESSION;
typedef struct _LIBSSH2_CHANNEL LIBSSH2_CHANNEL;

namespace mig::ssh {

// Bounds of every wait on the network, named where they are used.
inline constexpr int kConnectTimeoutS = 10;   // TCP connect and the SSH handshake
inline constexpr int kOperationTimeoutS = 60; // one request (auth, open a channel) without progress
inline constexpr int kKeepaliveS = 15;        // keepalive interval while a channel is busy
inline constexpr int kDeadLinkS = 60;         // unacknowledged data this long: the connection is dead
inline constexpr int kIdleTimeoutS = 5 * kOperationTimeoutS;  // a command that prints nothing (Run)
inline constexpr size_t kMaxRunOutput = 64u << 20;            // stdout that Run keeps (more fails)

// user@host[:port], as the operator gives it (--from, FROM).
struct Target {
  std::string user;  // default: $USER
  std::string host;
  int port = 22;
  std::string Show() const;  // user@host or user@host:port
};
// Parses "user@host", "host:2222", "user@[::1]:2222". Throws mig::Error (usage) when malformed.
Target ParseTarget(const std::string& s);

// How to connect.
struct Options {
  std::string key_file;     // --key / KEY; empty: ssh-agent, then ~/.ssh/id_{ed25519,ecdsa,rsa}
  std::string known_hosts;  // --known-hosts; empty: ~/.ssh/known_hosts
  bool accept_new_host_key = false;  // unknown key: append it (a changed key is always refused)
};

// Bounds of one Session::Run.
struct RunLimits {
  std::chrono::seconds deadline{0};  // the whole command; zero: none (the idle limit still holds)
  size_t max_out = kMaxRunOutput;    // stdout larger than this fails the run
};

// One authenticated SSH connection, used by several threads at once: each exec channel's
// reader thread (channel.cc), the replay's row count beside the dump, concurrent Runs. Thread
// safety is by mutex(): every libssh2 call on the session or one of its channels holds it (Run,
// OpenExec and the channels take it themselves; a caller of raw() must). Waiting happens
// without it. The Session must outlive its channels, the RemoteHost and agent sessions on it.
class Session {
 public:
  // Connects, verifies the host key, authenticates. Throws mig::Error with one sentence for
  // each way that fails (not resolved, refused, timed out, host key unknown or changed,
  // authentication rejected).
  Session(const Target& t, const Options& o);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs `command` through the remote user's shell, feeds `input`, returns its exit code
  // (128 + the signal's number, and a line in `err`, when a signal killed it), its whole stdout
  // and the last 1 MiB of its stderr. Throws mig::Error when the connection is lost, the
  // command prints nothing for kIdleTimeoutS, outlives `limits.deadline`, prints more than
  // `limits.max_out` bytes on stdout, or ends without reporting an exit status.
  ProcResult Run(const std::string& command, const std::string& input = {}, const RunLimits& limits = {});
  // Starts `command` on an exec channel and hands back its stdin/stdout as a Transport.
  std::unique_ptr<agent::Transport> Exec(const std::string& command);

  const Target& target() const { return t_; }
  const std::string& host_key_fingerprint() const { return fingerprint_; }
  // The IPv4 address this connection reached ("" for IPv6).
  std::string PeerIPv4() const;

  // Internal, for channels: waits until the socket is ready in the direction libssh2 needs,
  // or writable when `want_write` (a channel has data to send and room in its window), or
  // `wake_fd` (an eventfd, -1 for none) is readable; then empties `wake_fd`.
  void WaitSocket(int timeout_ms, bool want_write = false, int wake_fd = -1);
  // Sends a keepalive when one is due. Throws mig::Error when the connection is lost.
  void Keepalive();
  LIBSSH2_SESSION* raw() { return s_; }
  // Held around libssh2 calls when several threads use the session's channels.
  std::recursive_mutex& mutex() { return mu_; }
  LIBSSH2_CHANNEL* OpenExec(const std::string& command);
  std::string LastError();

 private:
  void Connect();
  void Handshake(const std::string& known_hosts);
  void CheckHostKey(const Options& o, const std::string& known_hosts);
  void Authenticate(const Options& o);
  Target t_;
  int sock_ = -1;
  LIBSSH2_SESSION* s_ = nullptr;
  std::string fingerprint_;
  std::recursive_mutex mu_;
};

}  // namespace mig::ssh
