// Starting migrate-agent on the old server: upload this build when it is not there yet.
#pragma once

#include <memory>
#include <string>

#include "agent/client.h"
#include "ssh/session.h"

namespace mig::ssh {

// Makes sure the old server has this very agent build (in ~/.cache/migrate, named by version
// and content hash; uploaded when absent) and starts it on an exec channel, with `sudo -n` when
// `sudo`. `local_agent` is the static migrate-agent to upload. Returns the handshaken session.
// Throws mig::Error when the old server's architecture differs or the agent cannot start.
std::unique_ptr<agent::AgentSession> StartRemoteAgent(Session& s, const std::string& local_agent, bool sudo);

}  // namespace mig::ssh
