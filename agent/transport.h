// The byte stream between migrate and an agent: a local child's pipes or an SSH exec channel.
#pragma once

#include <memory>
#include <string>

namespace mig::agent {

// A byte stream driven without blocking by one pump (both directions from one thread).
class Transport {
 public:
  virtual ~Transport() = default;
  // Writes what the stream takes now; returns the bytes taken, 0 when it would block, -1 when
  // the far side takes no more (it exited or closed its input: what it sent before it went is
  // still there to read, and EndReason tells why it went). Throws mig::Error when the
  // connection itself fails.
  virtual long WriteSome(const char* p, size_t n) = 0;
  // Reads what has arrived; returns the bytes read, 0 when nothing is there yet, -1 at the end
  // of the stream.
  virtual long ReadSome(char* p, size_t n) = 0;
  // Blocks until the stream can be read (or written, with `want_write`) or `timeout_ms` passes.
  virtual void Wait(bool want_write, int timeout_ms) = 0;
  // After the end of the stream: why the far side ended (its exit status and stderr).
  virtual std::string EndReason() = 0;
  // "the agent on old-host", for messages.
  virtual std::string Describe() const = 0;
};

// The migrate-agent beside this program (or $MIGRATE_AGENT when set).
std::string AgentBesideMe();

// Starts `agent_path serve` on this machine and talks to it through pipes (tests, merge-dir).
// REQUIRES: SIGPIPE ignored (migrate's and the agent's mains do), so that writing to an agent
// that has gone is a failed write, not a kill.
std::unique_ptr<Transport> StartLocalAgent(const std::string& agent_path);

}  // namespace mig::agent
