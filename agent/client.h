// The receiver's side of the agent protocol (docs/protocol.md), for its callers in one include:
// the session (agent/session.h), RUN (agent/run.h), the merge's source (agent/source.h) and
// the transports (agent/transport.h).
#pragma once

#include "agent/run.h"
#include "agent/session.h"
#include "agent/source.h"
#include "agent/transport.h"
