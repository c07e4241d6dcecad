// The daemon's configuration file (docs/daemon.md "Configuration"): read and checked at start
// (each refusal names the file, line and reason), and setConfig's changes written back into it
// in place, its other lines and comments kept.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/cron.h"

namespace mig::daemon {

// Prophecy's backupConfig, with its names and defaults, plus suspend and timezone.
struct BackupConfig {
  bool enableRegularBackups = false;
  std::string backupFrequency = "0 0 0 * * *";  // daily at 00:00:00
  int backupRetentionCount = 30;
  bool suspend = false;
  std::string timezone = "UTC";
};

// Where the API listens: a TCP address, or a unix socket (an absolute path).
struct Listen {
  std::string host = "127.0.0.1";
  int port = 8420;
  std::string socket;  // non-empty: a unix socket path
  bool loopback() const;  // 127.0.0.0/8, ::1, localhost, or a unix socket
  std::string text() const;
};

// The DR standby this daemon keeps (docs/daemon.md "Standby"); repo and password_file default
// to the daemon's own.
struct StandbyConfig {
  std::string install, repo, password_file;
  std::string project;  // whose backups: "" = the standby's own project, else the repository's only one
  std::string frequency = "0 */15 * * * *";
};

// How a backup of a stack on a Swarm reaches its nodes over SSH (docs/swarm.md): backup
// create's --node-user, --key, --known-hosts, --nodes-file; empty: their defaults.
struct SwarmNodesConfig {
  std::string user, key, known_hosts, nodes_file;
};

struct DaemonConfig {
  std::string path;  // the file it was read from
  std::string install, repo, password_file;
  std::vector<std::string> repo_options;  // restic -o KEY=VALUE
  Listen listen;
  std::string token_file = "/etc/migrate/token";
  std::string tls_cert, tls_key;
  bool allow_plain_http = false;
  std::string state_dir = "/var/lib/migrate";
  BackupConfig backup;
  std::optional<StandbyConfig> standby;
  SwarmNodesConfig swarm_nodes;
};

// Reads and checks `path`: unknown keys, wrong types, a bad schedule or time zone, a missing
// install, listening beyond loopback without TLS (unless allow_plain_http): mig::Error (bad
// input) "FILE:LINE: reason".
DaemonConfig LoadDaemonConfig(const std::string& path);

// The same checks on text (for tests and for setConfig's result before it is written).
DaemonConfig ParseDaemonConfig(const std::string& text, const std::string& path);

// One backupConfig key set by setConfig: its name and its new value as YAML text (true, 7,
// "0 0 3 * * *").
struct ConfigChange {
  std::string key, yaml;
};

// `text` with the values of backupConfig's keys replaced where they are written, added under
// backupConfig: where they are not (the block made when absent); every other line unchanged.
std::string ApplyBackupConfig(const std::string& text, const std::vector<ConfigChange>& changes);

}  // namespace mig::daemon
