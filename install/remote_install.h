// The old install of a remote migration: its top-level files (compose file, .env, VERSION...)
// copied into a local mirror and read there as an Install whose paths are the old server's.
#pragma once

#include <string>

#include "install/install.h"
#include "core/process.h"

namespace mig {

// Reads the install folder `path` on `host` with one program there (each is a login over SSH:
// the folder's real path and its top-level regular files under 4 MiB, base64 each, go to
// `mirror_root`/<its folder name>/). Throws mig::Error (input) naming what is wrong there.
Install LoadRemoteInstall(const Host& host, const std::string& path, const std::string& db_service,
                          const std::string& project_override, const compose::Env& process_env,
                          const std::string& mirror_root);

}  // namespace mig
