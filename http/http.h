// HTTP requests through libcurl (Debian's libcurl4-openssl-dev): the DNS providers' APIs, and the
// docker engine's on its unix socket (docker/engine_api.h).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mig::http {

// Bounds of one HTTP exchange.
constexpr std::chrono::seconds kConnectTimeout(10);
constexpr std::chrono::seconds kTimeout(30);

// One request. Headers are "Name: value" lines; they may hold secrets and are never logged.
struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;
  // Sent on this unix socket instead of the URL's host and port (the docker engine's).
  std::string unix_socket;
  // How long the whole request may take; 0: kTimeout (a `docker stop` waits out its grace).
  std::chrono::seconds timeout{0};
};

// The answer to a request.
struct Response {
  long status = 0;
  std::string body;
  int retry_after = 0;  // seconds, from a Retry-After header (0 when absent)
};

// Sends `req` and returns the answer whatever its status. Redirects are not followed (they
// would carry the Authorization header elsewhere). Throws mig::Error (failed) when the server
// cannot be reached or does not answer within req.timeout (kTimeout when 0).
Response Send(const Request& req);

// "a b/c" -> "a%20b%2Fc" for a query string.
std::string UrlEscape(const std::string& s);

}  // namespace mig::http
