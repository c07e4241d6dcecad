#include "docker/engine_lifecycle.h"

#include <algorithm>
#include <future>

#include "core/error.h"
#include "docker/engine_api.h"
#include "http/http.h"

namespace mig::docker {

std::optional<LifecycleArgs> ParseDockerLifecycle(const std::vector<std::string>& argv) {
  if (argv.size() < 3 || argv[0] != "docker" || (argv[1] != "start" && argv[1] != "stop")) return std::nullopt;
  LifecycleArgs a;
  a.stop = argv[1] == "stop";
  size_t i = 2;
  for (; i < argv.size() && !argv[i].empty() && argv[i][0] == '-'; ++i) {
    const std::string& o = argv[i];
    if (!a.stop || (o != "-t" && o != "--time" && o != "--timeout") || i + 1 == argv.size()) return std::nullopt;
    const std::string& n = argv[++i];
    if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    a.grace = std::stoi(n);
  }
  if (i == argv.size()) return std::nullopt;
  for (; i < argv.size(); ++i) {
    if (argv[i].empty()) return std::nullopt;
    a.containers.push_back(argv[i]);
  }
  return a;
}

namespace {

constexpr size_t kAtOnce = 50;    // the CLI's own limit on requests at once
constexpr int kUnknownGrace = 600;

// The engine's answer for one container: "" when done (204, or 304: already so, as the CLI takes
// it), else the refusal as the CLI prints it; nullopt when the engine did not answer.
std::optional<std::string> Ask(const std::string& socket, const LifecycleArgs& a, const std::string& container,
                               std::chrono::seconds limit) {
  std::string path = "/containers/" + http::UrlEscape(container) + (a.stop ? "/stop" : "/start");
  if (a.stop && a.grace) path += "?t=" + std::to_string(*a.grace);
  const auto r = api::Ask(socket, "POST", path, {}, limit);
  if (!r) return std::nullopt;
  if (r->status == 204 || r->status == 304) return "";
  return api::Refusal(r->body);
}

}  // namespace

std::optional<ProcResult> RunLifecycle(const std::string& socket, const LifecycleArgs& a, const std::string& shown,
                                       std::chrono::seconds timeout) {
  // Without -t the engine waits the container's own StopTimeout (compose's stop_grace_period),
  // unknown here: a bound that no grace of an install's service reaches.
  const std::chrono::seconds limit =
      timeout.count() > 0 ? timeout
                          : http::kTimeout + std::chrono::seconds(a.stop ? a.grace.value_or(kUnknownGrace) : 0);
  const auto began = std::chrono::steady_clock::now();
  std::vector<std::optional<std::string>> answers(a.containers.size());
  if (a.stop) {  // at once, as the CLI (up to 50 at a time)
    for (size_t from = 0; from < a.containers.size(); from += kAtOnce) {
      std::vector<std::future<std::optional<std::string>>> asked;
      for (size_t i = from; i < std::min(a.containers.size(), from + kAtOnce); ++i)
        asked.push_back(std::async(std::launch::async, [&, i] { return Ask(socket, a, a.containers[i], limit); }));
      for (size_t i = 0; i < asked.size(); ++i) answers[from + i] = asked[i].get();
    }
  } else {
    for (size_t i = 0; i < a.containers.size(); ++i)
      if (!(answers[i] = Ask(socket, a, a.containers[i], limit))) break;  // the engine is gone: not the next
  }
  std::vector<std::string> unanswered;
  for (size_t i = 0; i < answers.size(); ++i)
    if (!answers[i]) unanswered.push_back(a.containers[i]);
  if (!unanswered.empty()) {
    if (std::chrono::steady_clock::now() - began >= limit)
      Fail(shown + " did not finish within " + std::to_string(limit.count()) + " s");
    if (unanswered.size() == a.containers.size()) return std::nullopt;  // nothing done: the CLI says why
    std::string names;
    for (const auto& c : unanswered) names += (names.empty() ? "" : ", ") + c;
    Fail(shown + ": the docker engine stopped answering on " + socket + " before it was done with " + names);
  }
  ProcResult r;
  r.code = 0;
  std::string failed;
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i]->empty()) {
      r.out += a.containers[i] + "\n";
    } else {
      r.err += *answers[i];
      r.code = 1;
      failed += (failed.empty() ? "" : ", ") + a.containers[i];
    }
  }
  if (!a.stop && !failed.empty()) r.err += "Error: failed to start containers: " + failed + "\n";  // the CLI's last line
  return r;
}

}  // namespace mig::docker
