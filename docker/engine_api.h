// This machine's docker engine asked through its HTTP API on the unix socket that the docker CLI
// would use, instead of a docker CLI process per question: a request there takes 1-2 ms, a CLI
// process 40-300 ms on a small server (docs/benchmarks.md "Fixed costs"). Only where the CLI
// would reach the same engine; elsewhere (another server, DOCKER_HOST=tcp:// or ssh://, a docker
// context chosen) the callers in docker.cc run the CLI as before.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/process.h"
#include "http/http.h"

namespace mig::docker::api {

// The socket that `host`'s engine is asked on, or "" where the CLI is to be run: `host` must be
// this machine's own (Host::engine_api), DOCKER_HOST unset or unix://PATH, no docker context
// chosen (DOCKER_CONTEXT, or currentContext in $DOCKER_CONFIG/config.json, "default" aside; the
// CLI would let DOCKER_HOST win over a context, the CLI is simply used then), the socket there
// one this user may open, and MIGRATE_DOCKER_API not "0" (tests/data/pipeline/record.sh).
std::string SocketFor(const Host& host);
// The same rules on this process's environment now, for any host (SocketFor keeps its answer).
std::string SocketFromEnvironment();

// One request to the engine on `socket` (`body`, when given, sent as JSON), whatever the answer's
// status; nullopt when the engine does not answer there within `timeout` (0: http::kTimeout; the
// CLI then says why in its words).
std::optional<http::Response> Ask(const std::string& socket, const std::string& method, const std::string& path,
                                  const std::string& body = {}, std::chrono::seconds timeout = {});
// The engine's message in an answer that is an error ({"message": ...}), else the body's start.
std::string Message(const std::string& body);
// That message as the docker CLI prints a refusal on stderr: "Error response from daemon: ...\n".
std::string Refusal(const std::string& body);

// The engine's answer to GET `path` (its query escaped, e.g. "/containers/json?all=1"), as JSON,
// or nullopt where the CLI is to be asked instead: no socket for `host`, or the engine did not
// answer on it (the CLI then says why in its own words). Throws mig::Error with the engine's
// message when it answers with an error.
std::optional<nlohmann::json> Get(const Host& host, const std::string& path);

// A `filters` query value: {"key": ["value"]}, escaped for a URL.
std::string Filter(const std::string& key, const std::string& value);

}  // namespace mig::docker::api
