#include "daemon/config.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig;
using namespace mig::daemon;

namespace {

const char* kMinimal = "install: /srv/app\nrepo: /backups/app\npassword_file: /etc/migrate/repo.pw\n";

std::string ConfigRefusal(const std::string& text) {
  try {
    ParseDaemonConfig(text, "daemon.yml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("daemon config: Prophecy's backupConfig defaults, loopback by default") {
  DaemonConfig c = ParseDaemonConfig(kMinimal, "daemon.yml");
  CHECK(c.install == "/srv/app");
  CHECK_FALSE(c.backup.enableRegularBackups);
  CHECK(c.backup.backupFrequency == "0 0 0 * * *");
  CHECK(c.backup.backupRetentionCount == 30);
  CHECK_FALSE(c.backup.suspend);
  CHECK(c.backup.timezone == "UTC");
  CHECK(c.listen.text() == "127.0.0.1:8420");
  CHECK(c.state_dir == "/var/lib/migrate");
  CHECK_FALSE(c.standby);
}

TEST_CASE("daemon config: a bad file is refused with its line and the reason") {
  const std::string base = kMinimal;
  CHECK(ConfigRefusal(base + "colour: blue\n") == "daemon.yml:4: unknown key \"colour\" (the keys: install, repo, "
                                            "password_file, repo_options, listen, token_file, tls_cert, tls_key, "
                                            "allow_plain_http, state_dir, backupConfig, standby, swarm_nodes)");
  CHECK(ConfigRefusal(base + "backupConfig:\n  backupFrequency: \"0 0 0 * *\"\n")
            .rfind("daemon.yml:5: backupFrequency: \"0 0 0 * *\" has 5 fields", 0) == 0);
  CHECK(ConfigRefusal(base + "backupConfig:\n  enableRegularBackups: yes\n") ==
        "daemon.yml:5: enableRegularBackups must be true or false (not \"yes\")");
  CHECK(ConfigRefusal(base + "backupConfig:\n  backupRetentionCount: 0\n") ==
        "daemon.yml:5: backupRetentionCount must be between 1 and 100000");
  CHECK(ConfigRefusal(base + "backupConfig:\n  timezone: Mars/Base\n").rfind("daemon.yml:5: timezone: unknown time zone", 0) == 0);
  CHECK(ConfigRefusal(base + "backupConfig:\n  retention: 3\n").rfind("daemon.yml:5: unknown key \"retention\" in backupConfig", 0) == 0);
  CHECK(ConfigRefusal(base + "listen: everywhere\n").rfind("daemon.yml:4: listen must be HOST:PORT", 0) == 0);
  CHECK(ConfigRefusal("install: [1, 2\n").rfind("daemon.yml:", 0) == 0);
  CHECK(ConfigRefusal("repo: /backups/app\n") == "daemon.yml: install: is missing (the install folder the daemon backs up)");
}

TEST_CASE("daemon config: beyond loopback only with TLS or allow_plain_http") {
  const std::string base = kMinimal;
  CHECK(ConfigRefusal(base + "listen: 0.0.0.0:8420\n").find("beyond loopback without TLS") != std::string::npos);
  CHECK(ConfigRefusal(base + "listen: 0.0.0.0:8420\nallow_plain_http: true\n").empty());
  CHECK(ConfigRefusal(base + "listen: 0.0.0.0:8420\ntls_cert: /c.pem\ntls_key: /k.pem\n").empty());
  CHECK(ConfigRefusal(base + "listen: \"[::1]:9000\"\n").empty());
  DaemonConfig c = ParseDaemonConfig(base + "listen: /run/migrate.sock\n", "daemon.yml");
  CHECK(c.listen.socket == "/run/migrate.sock");
  CHECK(c.listen.loopback());
}

TEST_CASE("daemon config: setConfig's change is written in place, comments and other lines kept") {
  const std::string text =
      "# the daemon of app\n"
      "install: /srv/app\n"
      "repo: /backups/app   # on the second disk\n"
      "password_file: /etc/migrate/repo.pw\n"
      "backupConfig:\n"
      "    enableRegularBackups: false  # off until the disk is in\n"
      "    # every night\n"
      "    backupFrequency: \"0 0 0 * * *\"\n"
      "listen: 127.0.0.1:8420\n";
  const std::string out = ApplyBackupConfig(
      text, {{"enableRegularBackups", "true"}, {"backupRetentionCount", "7"}, {"backupFrequency", "\"0 0 3 * * *\""}});
  CHECK(out ==
        "# the daemon of app\n"
        "install: /srv/app\n"
        "repo: /backups/app   # on the second disk\n"
        "password_file: /etc/migrate/repo.pw\n"
        "backupConfig:\n"
        "    enableRegularBackups: true  # off until the disk is in\n"
        "    # every night\n"
        "    backupFrequency: \"0 0 3 * * *\"\n"
        "    backupRetentionCount: 7\n"
        "listen: 127.0.0.1:8420\n");
  DaemonConfig c = ParseDaemonConfig(out, "daemon.yml");
  CHECK(c.backup.enableRegularBackups);
  CHECK(c.backup.backupRetentionCount == 7);
  CHECK(c.backup.backupFrequency == "0 0 3 * * *");
  // No block yet: one is added at the end.
  const std::string added = ApplyBackupConfig(kMinimal, {{"suspend", "true"}});
  CHECK(added == std::string(kMinimal) + "backupConfig:\n  suspend: true\n");
  CHECK(ParseDaemonConfig(added, "daemon.yml").backup.suspend);
  CHECK_THROWS_AS(ApplyBackupConfig(std::string(kMinimal) + "backupConfig: {suspend: true}\n", {{"suspend", "false"}}),
                  Error);
}

TEST_CASE("daemon config: setConfig on a file with CRLF line ends finds its keys") {
  const std::string text = std::string("install: /srv/app\r\nrepo: /r\r\nbackupConfig:\r\n  suspend: false\r\n\r\n") +
                           "  backupRetentionCount: 4\r\n";
  const std::string out = ApplyBackupConfig(text, {{"backupRetentionCount", "9"}});
  CHECK(out == "install: /srv/app\r\nrepo: /r\r\nbackupConfig:\r\n  suspend: false\r\n\r\n  backupRetentionCount: 9\r\n");
}

TEST_CASE("daemon config: a standby, alone or beside the install, inherits repo and password_file") {
  DaemonConfig c = ParseDaemonConfig(
      "repo: /backups/app\npassword_file: /pw\nstandby:\n  install: /srv/standby\n  frequency: \"*/30 * * * * *\"\n",
      "daemon.yml");
  REQUIRE(c.standby);
  CHECK(c.install.empty());
  CHECK(c.standby->install == "/srv/standby");
  CHECK(c.standby->repo == "/backups/app");
  CHECK(c.standby->password_file == "/pw");
  CHECK(c.standby->project.empty());
  c = ParseDaemonConfig("standby:\n  install: /srv/s\n  repo: sftp:u@h:/r\n  project: product\n", "daemon.yml");
  CHECK(c.standby->repo == "sftp:u@h:/r");
  CHECK(c.standby->project == "product");
  CHECK(c.standby->frequency == "0 */15 * * * *");
  CHECK(ConfigRefusal("standby:\n  install: /srv/s\n") ==
        "daemon.yml: standby: repo: is missing (the repository the primary backs up into)");
  CHECK(ConfigRefusal(std::string(kMinimal) + "standby:\n  install: /srv/app/\n").find("is the daemon's own install") !=
        std::string::npos);
  CHECK(ConfigRefusal("standby:\n  install: /srv/s\n  repo: /r\n  frequency: \"0 0 *\"\n").rfind("daemon.yml:4:", 0) == 0);
  CHECK(ConfigRefusal("standby:\n  install: /srv/s\n  repo: /r\n  every: 5\n").rfind("daemon.yml:4: unknown key \"every\"", 0) == 0);
}

TEST_CASE("daemon config: how a stack's nodes are reached over SSH") {
  DaemonConfig c = ParseDaemonConfig(std::string(kMinimal) +
                                         "swarm_nodes:\n  user: admin\n  key: /k\n  known_hosts: /kh\n  nodes_file: /n.yml\n",
                                     "daemon.yml");
  CHECK(c.swarm_nodes.user == "admin");
  CHECK(c.swarm_nodes.key == "/k");
  CHECK(c.swarm_nodes.known_hosts == "/kh");
  CHECK(c.swarm_nodes.nodes_file == "/n.yml");
  CHECK(ParseDaemonConfig(kMinimal, "daemon.yml").swarm_nodes.key.empty());
  CHECK(ConfigRefusal(std::string(kMinimal) + "swarm_nodes:\n  password: x\n").rfind("daemon.yml:5: unknown key \"password\"", 0) == 0);
  CHECK(ConfigRefusal(std::string(kMinimal) + "swarm_nodes: root\n").find("swarm_nodes must be a mapping") != std::string::npos);
}
