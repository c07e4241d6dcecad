// What both origins that hold a migrate-agent session report about it (origin/*.cc only).
#pragma once

#include <nlohmann/json.hpp>

#include "agent/client.h"

namespace mig {

// The session's bytes on the wire, as Origin::Wire() returns them (null without a session).
inline nlohmann::json AgentWire(const agent::AgentSession* s) {
  if (!s) return nullptr;
  return {{"bytes_received", s->bytes_in()}, {"bytes_sent", s->bytes_out()}};
}

}  // namespace mig
