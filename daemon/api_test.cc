#include "daemon/api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/job_lock.h"
#include "daemon/runner.h"
#include "install/install.h"

using namespace mig;
using namespace mig::daemon;
using nlohmann::json;

namespace {

const std::string kToken = "0123456789abcdef0123456789abcdef";

struct Rig {
  TempDir tmp{"api-test"};
  std::string config_path = tmp.path() + "/daemon.yml";
  std::vector<std::vector<std::string>> cli_calls;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<Api> api;
  Rig() {
    const std::string text = "install: " + tmp.path() + "\nrepo: " + tmp.path() + "/repo\npassword_file: " +
                             tmp.path() + "/pw\nstate_dir: " + tmp.path() + "/state\n# kept\nbackupConfig:\n  "
                             "backupRetentionCount: 3  # three\n";
    WriteFileAtomic(config_path, text);
    WriteFileAtomic(tmp.path() + "/pw", "secret\n", 0600);
    daemon = std::make_unique<Daemon>(LoadDaemonConfig(config_path), "/bin/false");
    api = std::make_unique<Api>(*daemon, kToken, [this](const std::vector<std::string>& args) {
      cli_calls.push_back(args);
      return std::make_pair(0, std::string(R"([{"id": "3fa85f64", "timestamp": "2026-11-30t21-00-00", "status": "ready",
        "name": "", "version": "1.0.0", "bytes": 2048, "error": ""}, {"id": "0badf00d", "timestamp":
        "2026-11-29t21-00-00", "status": "failed", "name": "", "version": "1.0.0", "bytes": 0, "error": "pg_dump"}])"));
    });
  }
  HttpResponse Ask(const std::string& method, const std::string& target, const std::string& body = "",
                   std::map<std::string, std::string> headers = {{"authorization", "Bearer " + kToken}}) {
    return api->Handle({method, target, body, headers});
  }
};

}  // namespace

TEST_CASE("api: a token is needed, the right one, by header or Prophecy's cookie") {
  Rig r;
  CHECK(r.Ask("GET", "/api/backup/list", "", {}).status == 401);
  CHECK(r.Ask("GET", "/api/backup/list", "", {{"authorization", "Bearer nope"}}).status == 403);
  CHECK(r.Ask("GET", "/api/backup/list", "", {{"authorization", "Bearer " + kToken + "x"}}).status == 403);
  CHECK(r.Ask("GET", "/api/backup/list", "", {{"cookie", "a=b; prophecy-token=" + kToken}}).status == 200);
  CHECK(r.Ask("GET", "/api/backup/list", "", {{"cookie", "migrate-token=" + kToken}}).status == 200);
  CHECK(r.cli_calls.size() == 2);  // nothing ran for the refused ones
}

TEST_CASE("api: Prophecy's shapes for the list, latest and status") {
  Rig r;
  auto list = json::parse(r.Ask("GET", "/api/backup/list").body);
  REQUIRE(list["data"]["backup-list"].size() == 2);
  CHECK(list["data"]["backup-list"][0]["timestamp"] == "2026-11-30t21-00-00");
  CHECK(list["data"]["backup-list"][0]["status"] == "Success");
  CHECK(list["data"]["backup-list"][1]["status"] == "Failed");
  CHECK(json::parse(r.Ask("GET", "/api/backup/latest").body)["data"]["status"] == "Success");
  auto st = r.Ask("GET", "/api/backup/status?timestamp=2026-11-29t21-00-00");
  CHECK(json::parse(st.body)["data"]["status"] == "Failed");
  CHECK(r.Ask("GET", "/api/backup/status?timestamp=2020-01-01t00-00-00").status == 404);
  CHECK(r.Ask("GET", "/api/backup/status?x=1&timestamp=2026-11-29t21%2D00-00").status == 200);  // decoded
  CHECK(r.Ask("GET", "/api/backup/status").status == 404);  // none running
}

TEST_CASE("api: one job at a time: 409 names the running one's timestamp") {
  Rig r;
  JobLock held(JobLockPath(r.tmp.path()), "refused");
  held.Describe("backup 3fa85f64 2026-11-30t21-00-00");
  auto res = r.Ask("POST", "/api/backup", "{}");
  CHECK(res.status == 409);
  CHECK(json::parse(res.body)["timestamp"] == "2026-11-30t21-00-00");
  CHECK(r.Ask("POST", "/api/restore", R"({"timestamp": "2026-11-30t21-00-00"})").status == 409);
}

TEST_CASE("api: bad requests are 400, unknown paths 404, wrong methods 405") {
  Rig r;
  CHECK(r.Ask("POST", "/api/backup", "{not json").status == 400);
  CHECK(r.Ask("POST", "/api/restore", R"({"svcs": {}})").status == 400);
  CHECK(r.Ask("GET", "/api/nothing").status == 404);
  CHECK(r.Ask("PUT", "/api/backup/list").status == 405);
  CHECK(r.Ask("GET", "/api/feature/getConfig?configType=other").status == 400);
  CHECK(r.Ask("GET", "/api/restore/status?timestamp=2026-11-30t21-00-00").status == 404);
}

TEST_CASE("api: getConfig and setConfig, written back into the file") {
  Rig r;
  auto got = json::parse(r.Ask("GET", "/api/feature/getConfig?configType=backup").body);
  CHECK(got["data"]["backupConfig"]["backupFrequency"] == "0 0 0 * * *");
  CHECK(got["data"]["backupConfig"]["backupRetentionCount"] == 3);
  auto set = r.Ask("POST", "/api/feature/setConfig?configType=backup",
                   R"({"backupConfig": {"backupFrequency": "0 30 3 * * *", "enableRegularBackups": true}})");
  CHECK(set.status == 200);
  CHECK(r.daemon->backup_config().backupFrequency == "0 30 3 * * *");
  const DaemonConfig reread = LoadDaemonConfig(r.config_path);  // the file and the API agree
  CHECK(reread.backup.backupFrequency == "0 30 3 * * *");
  CHECK(reread.backup.enableRegularBackups);
  CHECK(reread.backup.backupRetentionCount == 3);
  CHECK(ReadSmallFile(r.config_path)->find("# kept\n") != std::string::npos);
  // A bad value changes nothing.
  auto bad = r.Ask("POST", "/api/feature/setConfig?configType=backup", R"({"backupConfig": {"backupFrequency": "0 0 0 * *"}})");
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["message"].get<std::string>().find("has 5 fields") != std::string::npos);
  CHECK(LoadDaemonConfig(r.config_path).backup.backupFrequency == "0 30 3 * * *");
  CHECK(r.Ask("POST", "/api/feature/setConfig?configType=backup", R"({"backupConfig": {"colour": 1}})").status == 400);
}
