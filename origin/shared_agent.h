// One migrate-agent session shared by the threads of a run (origin/*.cc only; docs/remote.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/client.h"
#include "core/process.h"
#include "sync/source.h"

namespace mig {

// The agent's session, started at its first need by whichever thread asks first. The session
// is one stream of frames that names no request (agent::AgentSession is not thread-safe), so
// its users take turns: a RUN holds it from its start to its end, the totals of a tree while
// they are counted, a merge source (OpenTree) for its whole life. A thread that needs it
// meanwhile waits. REQUIRES: a thread holding a turn does not ask for another (it would wait
// for itself): the merge, while its source lives, runs no program through Programs().
class SharedAgent {
 public:
  using Starter = std::function<std::unique_ptr<agent::AgentSession>()>;
  // `start` connects and shakes hands; it runs once, inside a turn.
  explicit SharedAgent(Starter start) : start_(std::move(start)) {}
  ~SharedAgent();
  SharedAgent(const SharedAgent&) = delete;
  SharedAgent& operator=(const SharedAgent&) = delete;

  // The old server's programs: those that read no stdin run through the agent (RUN: one
  // connection, no login each), the others on `with_stdin`. Thread-safe. The SharedAgent and
  // `with_stdin` must outlive it.
  std::unique_ptr<Host> Programs(const Host& with_stdin);
  // The bytes of the regular files under `root` (LIST, totals only). Thread-safe.
  uint64_t TreeBytes(const std::string& root, const std::string& display);
  // The tree under `root` as a merge source, holding the session until it is destroyed.
  std::unique_ptr<sync::Source> OpenTree(const std::string& root, const std::string& display,
                                         const std::string& spool_dir);
  // The session's bytes on the wire so far, as Origin::Wire() returns them (null before it
  // started). Read without a turn: called by the thread that holds one (the merge's).
  nlohmann::json Wire() const;
  // Says BYE when it started. REQUIRES: the run's end: no other thread uses the session (the
  // caller may still hold a source it opened: it takes no turn).
  void Close();

 private:
  friend class AgentPrograms;
  // A turn: the session (started now if need be), held until the lock is let go.
  std::unique_lock<std::mutex> Take(agent::AgentSession*& session);
  Starter start_;
  std::mutex turn_;
  std::unique_ptr<agent::AgentSession> session_;
  std::atomic<agent::AgentSession*> started_{nullptr};
};

}  // namespace mig
