// The record of each name's last cutover, so that `migrate dns update --rollback` can point it
// back with one command (format: docs/dns.md).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dns/dns.h"

namespace mig::dns {

// One name's last update: where it went through (no secrets) and what the name had before.
struct CutoverRecord {
  std::string name, provider, zone, server, tsig_key, hosted_zone_id, endpoint_url, command;
  std::vector<std::string> previous;  // the addresses before the update (empty: none or unknown)
  int previous_ttl = 0;               // 0 when unknown
  std::string address;                // the address the update set
  int ttl = 0;
  std::string at;                     // when, UTC (ISO 8601)
};

// The folder of the records: `flag` when given, else $MIGRATE_STATE_DIR, else
// $XDG_STATE_HOME/migrate, else $HOME/.local/state/migrate, else /var/lib/migrate.
std::string StateDir(const std::string& flag);

// DIR/dns/NAME.json. Throws mig::Error (usage) for a name that cannot be a file name.
std::string RecordPath(const std::string& dir, const std::string& name);

// Writes the record atomically (temporary name, fsync, rename); returns its path.
std::string SaveRecord(const std::string& dir, const CutoverRecord& rec);

// The record of `name`'s last update; nullopt when there is none. Throws mig::Error (input)
// when the file is damaged.
std::optional<CutoverRecord> LoadRecord(const std::string& dir, const std::string& name);

// A record file's bytes as they were before an update, to put back if the update did not happen.
struct KeptRecord {
  std::string path;
  std::optional<std::string> text;  // nullopt: there was no file
};

// Reads DIR/dns/NAME.json as it is now (whatever it holds).
KeptRecord KeepRecord(const std::string& dir, const std::string& name);

// Puts the file back as kept (atomically), or removes it when there was none.
void RestoreRecord(const KeptRecord& kept);

// The record of an update about to be sent: `u`'s settings, `before` as the previous state.
CutoverRecord RecordOf(const Update& u, const ARecords& before);

}  // namespace mig::dns
