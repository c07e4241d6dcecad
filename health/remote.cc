// The remote source's rows (--from user@old-host). The remote migration (SSH, the agent) is
// built separately; its checks plug in here as they land.
#include "health/checks.h"

namespace mig::health {

std::vector<Check> RemoteChecks(const CheckOptions& o) {
  if (o.from_remote.empty()) return {};
  // The remote migration will add its producers here: ssh reachability, authentication and
  // host key, the remote docker and compose, free disk there, and the clock skew between
  // the two servers.
  return {Failed("remote " + o.from_remote,
                 "remote checks (ssh, host key, remote docker and disk, clock skew) come with the remote migration, "
                 "which this version does not have",
                 "for an old install on this server use --from-path OLD")};
}

}  // namespace mig::health
