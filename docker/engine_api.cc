#include "docker/engine_api.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "http/http.h"

namespace mig::docker::api {

std::string SocketFromEnvironment() {
  // The recorder of the pipeline's tests (tests/data/pipeline/record.sh): its replay answers
  // programs only, so the recording must hold the engine's questions as programs too.
  if (const char* off = std::getenv("MIGRATE_DOCKER_API"); off && std::string(off) == "0") return "";
  const char* context = std::getenv("DOCKER_CONTEXT");
  if (context && *context && std::string(context) != "default") return "";
  std::string path = "/var/run/docker.sock";
  if (const char* h = std::getenv("DOCKER_HOST"); h && *h) {
    const std::string host = h;
    if (host.rfind("unix://", 0) != 0) return "";
    path = host.substr(7);
  } else {
    const char* config = std::getenv("DOCKER_CONFIG");
    const char* home = std::getenv("HOME");
    const std::string dir = config && *config ? config : home && *home ? std::string(home) + "/.docker" : "";
    if (!dir.empty()) {
      std::ifstream in(dir + "/config.json");
      if (in) {
        const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_discarded()) return "";  // the CLI says what is wrong with it
        if (j.is_object() && j.contains("currentContext") && j["currentContext"].is_string() &&
            !j["currentContext"].get<std::string>().empty() && j["currentContext"] != "default")
          return "";
      }
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || ::access(path.c_str(), R_OK | W_OK) != 0) return "";
  return path;
}

std::string SocketFor(const Host& host) {
  if (!host.engine_api()) return "";
  static const std::string socket = SocketFromEnvironment();  // the environment does not change during a run
  return socket;
}

std::optional<http::Response> Ask(const std::string& socket, const std::string& method, const std::string& path,
                                  const std::string& body, std::chrono::seconds timeout) {
  http::Request req;
  req.method = method;
  req.url = "http://docker" + path;
  req.unix_socket = socket;
  req.timeout = timeout;
  if (!body.empty()) {
    req.headers = {"Content-Type: application/json"};
    req.body = body;
  }
  try {
    return http::Send(req);
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::string Message(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  return body.substr(0, 200);
}

std::string Refusal(const std::string& body) { return "Error response from daemon: " + Message(body) + "\n"; }

std::optional<nlohmann::json> Get(const Host& host, const std::string& path) {
  const std::string socket = SocketFor(host);
  if (socket.empty()) return std::nullopt;
  const std::optional<http::Response> r = Ask(socket, "GET", path);
  if (!r) return std::nullopt;  // not answering there: the CLI says why
  if (r->status != 200)
    Fail("the docker engine answered " + std::to_string(r->status) + " to GET " + path.substr(0, path.find('?')) +
         ": " + Message(r->body));
  nlohmann::json body = nlohmann::json::parse(r->body, nullptr, false);
  if (body.is_discarded()) Fail("the docker engine's answer to GET " + path.substr(0, path.find('?')) + " is not JSON");
  return body;
}

std::string Filter(const std::string& key, const std::string& value) {
  return http::UrlEscape(nlohmann::json{{key, {value}}}.dump());
}

}  // namespace mig::docker::api
