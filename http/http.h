// HTTP requests for the API providers, through libcurl (Debian's libcurl4-openssl-dev).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mig::dns {

// Bounds of one HTTP exchange.
constexpr std::chrono::seconds kHttpConnectTimeout(10);
constexpr std::chrono::seconds kHttpTimeout(30);

// One request. Headers are "Name: value" lines; they may hold secrets and are never logged.
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;
};

// The answer to a request.
struct HttpResponse {
  long status = 0;
  std::string body;
  int retry_after = 0;  // seconds, from a Retry-After header (0 when absent)
};

// Sends `req` and returns the answer whatever its status. Redirects are not followed (they
// would carry the Authorization header elsewhere). Throws mig::Error (failed) when the server
// cannot be reached or does not answer within kHttpTimeout.
HttpResponse Send(const HttpRequest& req);

// "a b/c" -> "a%20b%2Fc" for a query string.
std::string UrlEscape(const std::string& s);

}  // namespace mig::dns
