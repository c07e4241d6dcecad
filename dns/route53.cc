// Amazon Route 53 through the aws CLI (Debian's awscli): an UPSERT change batch, then
// get-change until INSYNC; records read with list-resource-record-sets. The CLI finds the
// credentials itself (environment, profile, instance role); migrate never sees them.
#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/text.h"
#include "core/process.h"
#include "dns/provider.h"

namespace mig::dns {

namespace {

using nlohmann::json;

constexpr std::chrono::seconds kChangePoll(2);  // between get-change calls (Route 53 limits rates)

// "/hostedzone/Z1" or "Z1" -> "Z1" (the CLI prints the first, takes both).
std::string BareId(const std::string& id) {
  auto slash = id.rfind('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

// The aws CLI's error as one clause, with what to do where it is known. Its stderr reads
// "An error occurred (CODE) when calling the OP operation: MESSAGE" or a plain sentence.
std::string Explain(const ProcResult& r) {
  std::string line = r.last_error_line();
  std::string code;
  auto open = line.find("An error occurred (");
  auto close = open == std::string::npos ? open : line.find(')', open);
  if (close != std::string::npos) {
    code = line.substr(open + 19, close - open - 19);
    auto colon = line.find(": ", close);
    std::string message = colon == std::string::npos ? "" : line.substr(colon + 2);
    line = code + ": " + message;
  }
  static const char* kAuth[] = {"InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied",
                                "AccessDeniedException", "ExpiredToken", "UnrecognizedClientException",
                                "MissingAuthenticationToken", "IncompleteSignature"};
  for (const char* c : kAuth)
    if (code == c)
      return line + "; check the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) "
                    "and that they may change Route 53 records";
  if (code == "NoSuchHostedZone") return line + "; check --hosted-zone-id";
  if (code == "Throttling" || code == "PriorRequestNotComplete")
    return line + "; Route 53 is limiting the request rate: wait a minute and run again";
  if (line.find("Unable to locate credentials") != std::string::npos)
    return "no AWS credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE";
  if (line.find("Could not connect to the endpoint URL") != std::string::npos)
    return line + "; check the network, or --endpoint-url / AWS_ENDPOINT_URL_ROUTE53";
  return line;
}

// The route53 backend for one name.
class Route53 : public Provider {
 public:
  explicit Route53(const Update& u) : u_(u) {
    if (!ProgramExists("aws"))
      Fail("the route53 provider runs the aws CLI, which is not installed or not on PATH: apt-get install awscli");
    // Read here too: the aws CLI 2.9 of Debian bookworm knows only --endpoint-url.
    endpoint_ = u_.endpoint_url;
    if (endpoint_.empty()) endpoint_ = EnvOr("AWS_ENDPOINT_URL_ROUTE53");
    if (endpoint_.empty()) endpoint_ = EnvOr("AWS_ENDPOINT_URL");
    zone_id_ = BareId(u_.hosted_zone_id);
    // Route 53 is global, but the CLI 2.9 cannot resolve its endpoint without a region (it
    // fails with "BotoCoreError.__init__() takes 1 positional argument"): name its signing
    // region, us-east-1, when the environment and the profile give none.
    if (EnvOr("AWS_REGION").empty() && EnvOr("AWS_DEFAULT_REGION").empty()) {
      ProcResult r = RunCapture({"aws", "configure", "get", "region"}, {}, kToolTimeout);
      if (r.out.find_first_not_of(" \n") == std::string::npos) region_ = "us-east-1";
    }
  }

  std::string Where() const override {
    if (zone_id_.empty()) return "Route 53";
    return "Route 53 hosted zone " + zone_id_ + (zone_name_.empty() ? "" : " (" + zone_name_ + ")");
  }

  std::optional<ARecords> Read() override {
    json out = Aws({"list-resource-record-sets", "--hosted-zone-id", ZoneId(), "--start-record-name", u_.name,
                    "--start-record-type", "A", "--max-items", "1"},
                   "list the records of " + u_.name);
    ARecords rec;
    for (const auto& set : out.value("ResourceRecordSets", json::array())) {
      if (CanonicalName(set.value("Name", std::string())) != CanonicalName(u_.name) ||
          set.value("Type", std::string()) != "A")
        continue;
      if (set.contains("AliasTarget") || set.contains("SetIdentifier"))
        Fail(u_.name + " is an alias or a routing-policy record in " + Where() +
             ": migrate changes plain A records only; change it in Route 53 by hand");
      for (const auto& v : set.value("ResourceRecords", json::array())) rec.addresses.push_back(v.value("Value", ""));
      rec.ttl = set.value("TTL", 0);
    }
    std::sort(rec.addresses.begin(), rec.addresses.end());
    return rec;
  }

  void Write(const std::vector<std::string>& addresses, int ttl, const ARecords&, std::chrono::seconds wait) override {
    json values = json::array();
    for (const auto& a : addresses) values.push_back({{"Value", a}});
    json batch = {{"Comment", "migrate dns"},
                  {"Changes",
                   {{{"Action", "UPSERT"},
                     {"ResourceRecordSet", {{"Name", u_.name}, {"Type", "A"}, {"TTL", ttl}, {"ResourceRecords", values}}}}}}};
    json out = Aws({"change-resource-record-sets", "--hosted-zone-id", ZoneId(), "--change-batch", batch.dump()},
                   "change the A record of " + u_.name);
    std::string change = BareId(out["ChangeInfo"].value("Id", std::string()));
    std::string status = out["ChangeInfo"].value("Status", std::string());
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (status != "INSYNC") {
      if (std::chrono::steady_clock::now() > deadline)
        Fail(Where() + " accepted the change of " + u_.name + " (change " + change + ") but it is still " + status +
             " after " + std::to_string(wait.count()) + " s: check it later with aws route53 get-change --id " + change);
      std::this_thread::sleep_for(kChangePoll);
      status = Aws({"get-change", "--id", change}, "tell the state of change " + change)["ChangeInfo"].value(
          "Status", std::string());
    }
  }

 private:
  // The hosted zone's id: --hosted-zone-id, else the one hosted zone named like a zone of the name.
  const std::string& ZoneId() {
    if (!zone_id_.empty()) return zone_id_;
    std::vector<std::string> tried = ZoneCandidates(u_.name, u_.zone);
    for (const auto& z : tried) {
      json out = Aws({"list-hosted-zones-by-name", "--dns-name", z, "--max-items", "10"},
                     "list the hosted zones named " + z);
      std::vector<std::string> ids;
      for (const auto& hz : out.value("HostedZones", json::array()))
        if (CanonicalName(hz.value("Name", std::string())) == z) ids.push_back(BareId(hz.value("Id", std::string())));
      if (ids.size() > 1)
        BadUsage("several Route 53 hosted zones are named " + z + " (" + ids[0] + ", " + ids[1] +
                 "...): choose one with --hosted-zone-id");
      if (ids.size() == 1) {
        zone_id_ = ids[0];
        zone_name_ = z;
        return zone_id_;
      }
    }
    std::string list;
    for (const auto& z : tried) list += (list.empty() ? "" : ", ") + z;
    Fail("no Route 53 hosted zone holding " + u_.name + " is visible to these credentials (tried " + list +
         "): check the name, or give --hosted-zone-id");
  }

  // Runs `aws route53 ARGS --output json`; returns its output. `what` names the request for errors.
  json Aws(std::vector<std::string> args, const std::string& what) {
    std::vector<std::string> argv = {"aws", "route53"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--output", "json"});
    if (!endpoint_.empty()) argv.insert(argv.end(), {"--endpoint-url", endpoint_});
    if (!region_.empty()) argv.insert(argv.end(), {"--region", region_});
    ProcResult r = RunCapture(argv, {}, kToolTimeout);
    if (!r.ok()) Fail("aws route53 could not " + what + ": " + Explain(r));
    json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      Fail("the aws CLI printed no JSON when asked to " + what + ": " + r.error_tail());
    return j;
  }

  Update u_;
  std::string endpoint_, region_, zone_id_, zone_name_;
};

}  // namespace

std::unique_ptr<Provider> OpenRoute53(const Update& u) { return std::make_unique<Route53>(u); }

}  // namespace mig::dns
