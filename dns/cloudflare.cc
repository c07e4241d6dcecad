// Cloudflare's HTTP API v4: the zone found by name, the name's A records listed by type and
// name, then patched, created or deleted until they hold the wanted addresses. The token comes
// from the environment only (CLOUDFLARE_API_TOKEN) and is sent only in the Authorization header.
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/text.h"
#include "http/http.h"
#include "dns/provider.h"

namespace mig::dns {

namespace {

using nlohmann::json;

constexpr const char* kDefaultApi = "https://api.cloudflare.com/client/v4";
constexpr int kThrottleRetries = 3;                  // answers 429 retried this often
constexpr std::chrono::seconds kMaxRetryAfter(30);   // the longest Retry-After honoured

// The errors[] of an answer as one clause: "Authentication error (code 10000)".
std::string ErrorText(const json& j) {
  std::string s;
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return s;
  for (const auto& e : j["errors"]) {
    if (!e.is_object()) continue;
    std::string one = e.value("message", std::string("unknown error"));
    if (e.contains("code")) one += " (code " + e["code"].dump() + ")";
    if (e.contains("error_chain") && e["error_chain"].is_array())
      for (const auto& c : e["error_chain"])
        if (c.is_object()) one += ": " + c.value("message", std::string());
    s += (s.empty() ? "" : "; ") + one;
  }
  return s;
}

// The Cloudflare backend for one name.
class Cloudflare : public Provider {
 public:
  explicit Cloudflare(const Update& u) : u_(u) {
    token_ = EnvOr("CLOUDFLARE_API_TOKEN");
    if (token_.empty())
      BadUsage("the cloudflare provider needs an API token in the environment: export CLOUDFLARE_API_TOKEN "
               "(a token allowed to edit the zone's DNS; it is never taken on the command line)");
    api_ = EnvOr("CLOUDFLARE_API_URL");
    if (api_.empty()) api_ = kDefaultApi;
    while (!api_.empty() && api_.back() == '/') api_.pop_back();
  }

  std::string Where() const override {
    return zone_name_.empty() ? "Cloudflare" : "Cloudflare zone " + zone_name_;
  }

  std::optional<ARecords> Read() override {
    ARecords rec;
    bool proxied = false;
    for (const auto& r : List()) {
      rec.addresses.push_back(r.value("content", std::string()));
      proxied = proxied || r.value("proxied", false);
      rec.ttl = r.value("ttl", 0);
    }
    if (proxied) rec.ttl = 0;  // the edge answers with its own TTL
    std::sort(rec.addresses.begin(), rec.addresses.end());
    return rec;
  }

  void Write(const std::vector<std::string>& addresses, int ttl, const ARecords&, std::chrono::seconds) override {
    const std::string records = "/zones/" + ZoneId() + "/dns_records";
    std::set<std::string> placed;
    std::vector<json> spare;  // records whose address is no longer wanted
    for (const auto& r : List()) {
      std::string content = r.value("content", std::string());
      bool wanted = std::find(addresses.begin(), addresses.end(), content) != addresses.end();
      if (!wanted || !placed.insert(content).second) {
        spare.push_back(r);
        continue;
      }
      if (!r.value("proxied", false) && r.value("ttl", 0) != ttl)
        Call("PATCH", records + "/" + Id(r), {{"ttl", ttl}}, "change the TTL of " + u_.name);
    }
    for (const auto& a : addresses) {
      if (placed.count(a)) continue;
      if (!spare.empty()) {
        json r = spare.back();
        spare.pop_back();
        json patch = {{"content", a}};
        if (!r.value("proxied", false)) patch["ttl"] = ttl;
        Call("PATCH", records + "/" + Id(r), patch, "update the A record of " + u_.name);
      } else {
        Call("POST", records,
             {{"type", "A"}, {"name", CanonicalName(u_.name)}, {"content", a}, {"ttl", ttl}, {"proxied", false}},
             "create an A record for " + u_.name);
      }
      placed.insert(a);
    }
    for (const auto& r : spare) Call("DELETE", records + "/" + Id(r), nullptr, "delete an old A record of " + u_.name);
  }

 private:
  static std::string Id(const json& r) { return r.value("id", std::string()); }

  // The zone's id, found by name the first time.
  const std::string& ZoneId() {
    if (!zone_id_.empty()) return zone_id_;
    std::vector<std::string> tried = ZoneCandidates(u_.name, u_.zone);
    for (const auto& z : tried) {
      json result = Call("GET", "/zones?name=" + http::UrlEscape(z), nullptr, "list the zones named " + z);
      if (result.is_array() && !result.empty()) {
        zone_id_ = Id(result[0]);
        zone_name_ = z;
        return zone_id_;
      }
    }
    std::string list;
    for (const auto& z : tried) list += (list.empty() ? "" : ", ") + z;
    Fail("no Cloudflare zone holding " + u_.name + " is visible to this API token (tried " + list +
         "): check the name, --zone, and the token's zone permissions");
  }

  // The name's A records.
  std::vector<json> List() {
    const std::string path =
        "/zones/" + ZoneId() + "/dns_records?type=A&per_page=100&name=" + http::UrlEscape(CanonicalName(u_.name));
    json result = Call("GET", path, nullptr, "list the A records of " + u_.name);
    std::vector<json> out;
    if (result.is_array())
      for (const auto& r : result)
        if (r.is_object() && CanonicalName(r.value("name", std::string())) == CanonicalName(u_.name)) out.push_back(r);
    return out;
  }

  // One API call; returns the envelope's result. Answers 429 are retried after Retry-After.
  json Call(const std::string& method, const std::string& path, const json& body, const std::string& what) {
    http::Request req{method, api_ + path, {"Authorization: Bearer " + token_, "Content-Type: application/json"},
                    body.is_null() ? std::string() : body.dump(), ""};
    for (int attempt = 0;; ++attempt) {
      http::Response r = http::Send(req);
      if (r.status == 429 && attempt < kThrottleRetries) {
        auto pause = std::chrono::seconds(std::clamp<int>(r.retry_after, 1, kMaxRetryAfter.count()));
        std::this_thread::sleep_for(pause);
        continue;
      }
      json j = json::parse(r.body, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        Fail("Cloudflare answered the request to " + what + " with HTTP " + std::to_string(r.status) +
             " and no JSON envelope: is " + api_ + " the API (CLOUDFLARE_API_URL)?");
      if (r.status / 100 == 2 && j.value("success", false)) return j.contains("result") ? j["result"] : json();
      std::string why = ErrorText(j);
      if (why.empty()) why = "no reason given";
      std::string hint;
      if (r.status == 401 || r.status == 403)
        hint = "; check CLOUDFLARE_API_TOKEN: it must be valid and allowed to edit the zone's DNS";
      else if (r.status == 429)
        hint = "; Cloudflare is limiting the request rate: wait a few minutes and run again";
      Fail("Cloudflare refused to " + what + " (HTTP " + std::to_string(r.status) + "): " + why + hint);
    }
  }

  Update u_;
  std::string token_, api_, zone_id_, zone_name_;
};

}  // namespace

std::unique_ptr<Provider> OpenCloudflare(const Update& u) { return std::make_unique<Cloudflare>(u); }

}  // namespace mig::dns
