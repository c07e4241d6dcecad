// Where the old install is read from: one interface for a folder on this server and for an
// old server reached over SSH (its programs, migrate-agent, the dump through the agent). The
// pipeline, `migrate merge-dir` and `migrate check --from` open their source through it.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "compose/compose.h"
#include "core/process.h"
#include "install/install.h"
#include "ssh/session.h"
#include "sync/source.h"

namespace mig {

// How to reach the old install.
struct OriginSpec {
  std::string from;        // user@host[:port]; empty: a folder on this server
  ssh::Options ssh;        // with `from`: --key, --known-hosts, --accept-new-host-key
  bool sudo = false;       // with `from`: run the agent with sudo -n
  bool via_agent = false;  // without `from`: read through a local migrate-agent (tests, benchmarks)
  // With `from`: the old server's programs that read no stdin run through migrate-agent (no
  // login each). `migrate check` says no: it must not upload the agent.
  bool programs_through_agent = true;
};

// The source side of a run. host(), DumpHost(), ConcurrentHost(), IsFolder() and TreeBytes()
// may be asked from several threads at once (the preflight asks on threads; on an old server
// they take turns on the agent's session: origin/shared_agent.h); the rest from one thread.
// Sources it opens hold a reference to it: REQUIRES the Origin outlives them.
class Origin {
 public:
  virtual ~Origin() = default;

  // "" on this server, else "user@host[:port]": for messages and the report.
  virtual std::string Where() const = 0;
  // `path` as the operator reads it: "/srv/old" or "root@old:/srv/old".
  std::string Show(const std::string& path) const { return Where().empty() ? path : Where() + ":" + path; }
  // Where the old install's programs (docker, compose, test) run.
  virtual const Host& host() = 0;
  // True when docker on host() is this server's engine (no second engine to ask).
  virtual bool SharesEngineWithThisHost() const = 0;
  // What the connection established so far, as report rows (name, detail): "ssh", then
  // "agent" once the agent was started (at its first need).
  virtual std::vector<std::pair<std::string, std::string>> Checks() const = 0;
  // The old server's IPv4 address as this server reached it ("" on this server or over IPv6).
  virtual std::string PeerIPv4() const = 0;

  // Reads the install at `path` there as role "source". Throws mig::Error (input) naming what
  // is wrong (not a folder, no compose file, no such db service).
  virtual Install LoadInstall(const std::string& path, const std::string& db_service,
                              const std::string& project_override, const compose::Env& env) = 0;
  // Whether `dir` is a folder there.
  virtual bool IsFolder(const std::string& dir) = 0;
  // The bytes of the regular files under `dir` (what the preflight's room check needs).
  virtual uint64_t TreeBytes(const std::string& dir) = 0;
  // The tree under `dir` as a merge source; a remote listing is spooled in `spool_dir` (beside
  // the target, never /tmp). REQUIRES this Origin outlives the Source.
  virtual std::unique_ptr<sync::Source> OpenTree(const std::string& dir, const std::string& spool_dir) = 0;
  // Where a database dump's bytes come from: host(), or through migrate-agent's channel.
  virtual const Host& DumpHost() = 0;
  // The old server's programs for a thread of their own while this thread drives a tree from
  // OpenTree (the replay beside the merge, the two-phase cutover's WAL follower and count): on
  // this server host(); on an old server the SSH connection's own exec channels, never the
  // agent's session (the merge holds it).
  virtual const Host& ConcurrentHost() = 0;
  // The bytes on the wire so far (null on this server): {"bytes_received", "bytes_sent"}.
  virtual nlohmann::json Wire() const = 0;
  // Ends the agent's session politely (nothing on this server).
  virtual void Close() = 0;
  // Asks the programs `argvs` of host() at once, in one program there; the steps that run them
  // later take these answers (core/prefetch_host.h). Nothing on this server, where a program
  // costs no round trip.
  virtual void Prefetch(const std::vector<std::vector<std::string>>& argvs) { (void)argvs; }
};

// Opens the origin `spec` names: connects to the old server (host key, authentication) when
// it is remote; the agent is started at its first need. Throws mig::Error naming what failed.
std::unique_ptr<Origin> OpenOrigin(const OriginSpec& spec);

}  // namespace mig
