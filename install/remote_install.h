// The old install of a remote migration: its top-level files (compose file, .env, VERSION...)
// copied into a local mirror and read there as an Install whose paths are the old server's.
#pragma once

#include <string>

#include "install/install.h"
#include "ssh/remote_host.h"

namespace mig {

// Reads the install folder `path` on `host` (the top-level regular files under 4 MiB go to
// `mirror_root`/<its folder name>/). Throws mig::Error (input) naming what is wrong there.
Install LoadRemoteInstall(const ssh::RemoteHost& host, const std::string& path, const std::string& db_service,
                          const std::string& project_override, const compose::Env& process_env,
                          const std::string& mirror_root);

}  // namespace mig
