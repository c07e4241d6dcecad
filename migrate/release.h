// `migrate release ...`: side-by-side release folders (issue 5).
#pragma once

#include <string>
#include <vector>

namespace mig {

struct PrefixOptions {
  std::string file;    // the compose file (default: the current folder's)
  std::string prefix;  // e.g. v2_10_5_MY_COPY_2
  bool dry_run = false;
};

// Gives every top-level volume of the compose file the name "<prefix>_<key>". Prints the
// changed lines and warnings; unless dry_run, keeps the original beside the file as
// "<file>.orig-<timestamp>" and replaces the file atomically. Returns the exit code.
int ReleasePrefix(const PrefixOptions& o);

// What two or more release folders would collide on if run at once on this host: project
// names, volume and network names, container names, host ports. Prints each collision with
// what to change; returns 1 when there is one, 0 otherwise.
int ReleaseCheck(const std::vector<std::string>& dirs, bool json);

// `release up|down|ps DIR`: the release under its project name (`project`, else the one it
// runs under, else COMPOSE_PROJECT_NAME in its .env, else its folder name), with compose v1 or
// v2. `up` waits until its services run (and are healthy). Returns the exit code.
int ReleaseUpDownPs(const std::string& verb, const std::string& dir, const std::string& project, int wait_seconds);

// `release show [DIR]`: the release as migrate reads it (project, services' images, environment
// and published ports, volume and network names), as JSON.
int ReleaseShow(const std::string& dir, const std::string& project);

// `release list [ROOT]`: the folders under ROOT/releases (or ROOT itself when it has no
// releases/ folder), their VERSION, project and how many containers run.
int ReleaseList(const std::string& root, bool json);

}  // namespace mig
