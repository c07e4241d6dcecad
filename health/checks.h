// The check producers of `migrate check`. Each producer returns its rows and never throws
// for a failed check (that is a row); the command runs them in order. A new group of
// checks (the remote ones, over SSH) is one more producer.
#pragma once

#include <string>
#include <vector>

#include "health/check.h"
#include "health/gpu.h"
#include "health/runner.h"
#include "ssh/session.h"

namespace mig::health {

// What `migrate check` was asked to check (its flags, docs/check.md).
struct CheckOptions {
  std::string to_path;            // the install to check; "" = the current folder
  bool to_path_given = false;     // --to-path (or TO_PATH) named it
  std::string from_path;          // an old install on this server (a local migration's source)
  std::string from_remote;        // user@old-host (a remote migration's source); from_path is then there
  ssh::Options ssh;               // --key (env KEY), --known-hosts, --accept-new-host-key
  std::string node_user = "root";  // a Swarm's nodes: the SSH user (--node-user)
  std::string nodes_file;          // a Swarm's nodes: per-node access (--nodes-file)
  std::string db_service = "postgres";
  bool require_gpu = false;       // no GPU is a failure, not a skip
  std::string gpu_image;          // run it with --gpus all and compare the GPUs it sees
};

// docker engine, compose, the install(s), their postgres, free disk. Uses the real engine.
std::vector<Check> LocalChecks(const CheckOptions& o);

// The remote source's checks (--from user@host): ssh and host key, clock skew, the agent's
// architecture, the old docker, compose, install and postgres, room here for what it holds,
// the old server's disk.
std::vector<Check> RemoteChecks(const CheckOptions& o);

// The driver and each GPU of `host` (read by ReadGpus), docker's nvidia runtime and, with
// --gpu-image, the GPUs a container sees; docker is reached through `run`.
std::vector<Check> GpuChecks(const CheckOptions& o, const GpuReport& host, const Runner& run);

// The docker command that shows which GPUs a container of `image` sees.
std::vector<std::string> ContainerGpuCommand(const std::string& image);

}  // namespace mig::health
