// A named docker volume as one tar stream, read and written on the host that has it (a Swarm
// node, through its SSH connection; docs/swarm.md "A volume on its node"). GNU tar there does
// the file system's work: every attribute a volume's files carry, sorted and without access
// or change times, so that an unchanged volume is the same bytes (restic stores them once),
// but for the header of each sparse file, which tar names by its process id.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::backup {

// tar's argv that writes the tree under `dir` to stdout, and the one that reads such a stream
// into `dir`.
std::vector<std::string> TarOutArgv(const std::string& dir);
std::vector<std::string> TarInArgv(const std::string& dir);

// Throws mig::Error naming `host` when its tar is not GNU tar (1.28 or newer: --sort).
void RequireGnuTar(const Host& host);

// The volume's mount point on `host` (`docker volume inspect`), or "" when it has none.
std::string VolumeMountpoint(const Host& host, const std::string& volume);
// Makes the volume on `host` with `labels` (a stack's, so that deploy takes it as its own);
// returns its mount point.
std::string CreateVolume(const Host& host, const std::string& volume, const std::map<std::string, std::string>& labels);

// Streams the tree under `dir` on `host` into `sink`; returns the bytes. A file that changed
// while it was read is logged (tar's exit 1: stop the writers, --suspend, for a consistent
// copy); any other failure of tar, or of `sink`, throws mig::Error, tar stopped.
uint64_t StreamTreeOut(const Host& host, const std::string& dir,
                       const std::function<void(const char*, size_t)>& sink);

// Makes `dir` on `host` the tree that `source` streams (read until it returns 0): extracted
// beside it (DIR.restoring), then swapped in by two renames; a failure before the swap leaves
// `dir` as it was. `dir` must not be a mount point. `keep_tag` (a restore's run): the old tree
// stays beside it as DIR.before-TAG for a rollback (trees kept by other restores are removed;
// when this one kept a tree there already, an earlier attempt's, that one stays); "": the old
// tree is removed. Returns the bytes.
uint64_t StreamTreeIn(const Host& host, const std::string& dir, const std::function<size_t(char*, size_t)>& source,
                      const std::string& keep_tag = "");

}  // namespace mig::backup
