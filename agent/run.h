// RUN (docs/protocol.md): a program on the agent's host, its stdout read through the session.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/session.h"
#include "core/process.h"

namespace mig::agent {

// A program the agent runs on its host (RUN): its stdout read through the session, no stdin.
// Nothing else may use the session until the program's end has been read (wait()). kill()
// abandons the session. The Proc holds a reference to `s`: the session must outlive it.
std::unique_ptr<Proc> RunThroughAgent(AgentSession& s, const std::vector<std::string>& argv);

}  // namespace mig::agent
