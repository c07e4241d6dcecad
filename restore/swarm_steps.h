// The steps of a restore onto a Swarm (docs/swarm.md "Restore onto nodes") that RestoreOntoSwarm
// composes: each takes plain values (the backup's Swarm, the node map, the nodes' hosts).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backup/manifest.h"
#include "backup/swarm_plan.h"
#include "core/process.h"
#include "docker/node_map.h"
#include "install/install.h"

namespace mig {

// One volume of the backup and the new node it is written on.
struct VolumeWrite {
  const backup::SwarmPart::Volume* v = nullptr;
  std::string node;  // the new node's hostname
  std::string name;  // the volume there (the backup's, or named after the stack restored: StackVolume)
};

// A stack's volume `name` (STACK_KEY) as the stack `to` names it; a volume named otherwise
// (its own `name:`, external) keeps its name.
std::string StackVolume(const std::string& name, const std::string& from, const std::string& to);

std::vector<docker::OldNode> OldNodes(const backup::SwarmPart& sp);

// The old nodes a restore needs mapped: each written volume's, and each node a constraint names
// (its service would otherwise wait for a node that is not there).
std::vector<std::string> NeededNodes(const backup::SwarmPart& sp, const std::vector<VolumeWrite>& writes,
                                     const std::vector<docker::OldNode>& old);

// Throws mig::Error (input) for a volume that exists on its new node with another driver than
// `local` or with driver options (a restore writes its folder, which such a volume does not use).
void CheckVolumeKinds(const backup::NodeHosts& hosts, const std::vector<VolumeWrite>& writes);

// Rewrites `in`'s compose file: each constraint the backup recorded for a service that names an
// old node now names its new node (only those scalars change; a constraint that is no longer the
// recorded one, as after an earlier run, is left alone). The file before is kept in
// `run_dir`/config.backup/. Returns the number of constraints rewritten.
int RewritePlacement(const Install& in, const backup::SwarmPart& sp, const std::vector<docker::OldNode>& old,
                     const docker::NodeMap& map, const std::string& run_dir);

// Throws mig::Error (input) naming the service, the file and the constraint when a service the
// backup had pinned to a node is not pinned to its new node by `in`'s compose file (a constraint
// written through a variable that still names the old node, or added by docker service update).
void CheckPlacement(const Install& in, const backup::SwarmPart& sp, const std::vector<docker::OldNode>& old,
                    const docker::NodeMap& map);

// Waits until no container of `stack` is left on `host` (a removed stack's tasks end on their
// nodes after the manager forgot them): nothing may hold a volume written, or the database's
// folder, when the next one starts.
void WaitNoContainers(const Host& host, const std::string& node, const std::string& stack, int seconds);

// The variables `docker stack deploy` interpolates the compose file with, as compose would:
// the install's .env where the process's environment does not set them.
std::map<std::string, std::string> DeployEnv(const Install& in);

// Writes each volume on its node from `open` (its tar stream: a program whose exit says whether
// the stream was whole); a volume listed in `run_dir`/volumes-written (an earlier attempt of
// this run) is not written again, unless `again` (a live source: the old stack may have written
// since), and each one written is added there. The tree a volume had before the run is kept
// beside it (DIR.before-RUN, RUN the run folder's name; an earlier attempt's stays).
// `progress(bytes)` as the streams go. Returns "node: mount point" of each volume written by
// this run, earlier attempts included.
std::vector<std::string> WriteVolumes(const backup::NodeHosts& hosts, const std::vector<VolumeWrite>& writes,
                                      const std::string& stack, const std::string& run_dir,
                                      const std::function<std::unique_ptr<Proc>(const backup::SwarmPart::Volume&)>& open,
                                      const std::function<void(uint64_t)>& progress, bool again = false);

}  // namespace mig
