// Where a database's `pg_dump -Fc` stream comes from, with what it must be found to hold: a
// running server (a migration's source, a backup's database), or a dump kept in a backup.
#pragma once

#include <cstddef>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "db/postgres.h"

namespace mig::db {

// A role as pg_roles describes it (no password: a migration never carries those).
struct Role {
  std::string name;
  bool super = false, inherit = true, createrole = false, createdb = false, login = false, replication = false,
       bypassrls = false;
};

// A database's encoding and locale (CREATE DATABASE ... ENCODING, LC_COLLATE, LC_CTYPE).
struct DbLocale {
  std::string encoding, collate, ctype;
  bool operator==(const DbLocale& o) const {
    return encoding == o.encoding && collate == o.collate && ctype == o.ctype;
  }
};

// One dump stream. The order of calls: Roles / Locale (any time), Start, Read until it returns
// 0, End. Abort instead of End when the consumer failed. Not thread-safe.
class DumpSource {
 public:
  virtual ~DumpSource() = default;
  // "the source", "backup 2026-11-30t21-00-00": for messages.
  virtual std::string Describe() const = 0;
  virtual std::vector<Role> Roles() = 0;
  // The database's encoding and locale; nullopt when unknown (the target's default is used).
  virtual std::optional<DbLocale> Locale() = 0;
  virtual void Start() = 0;
  // The next bytes of the dump; 0 at its end.
  virtual size_t Read(char* buf, size_t len) = 0;
  // Waits for the producer: the rows and sequences the dump holds, or mig::Error naming the
  // producer's failure.
  virtual DbState End() = 0;
  // Stops the producer; never throws.
  virtual void Abort() noexcept = 0;
};

// A running server read in one exported REPEATABLE READ snapshot: the rows are counted in the
// same snapshot pg_dump streams, so they agree while others keep writing.
class LiveDump : public DumpSource {
 public:
  // Opens the snapshot (a psql session held until destruction) on a thread, so that the caller's
  // next steps (the target's own session) overlap its login and start; the first call that
  // needs it waits, and throws what opening it threw. `label`: for messages. `started`: a
  // session of pg's to the database started ahead (its login overlapped earlier steps); the
  // snapshot is exported in it, or in a new one where it failed meanwhile.
  LiveDump(const Postgres& pg, std::string label, std::unique_ptr<OpeningSession> started = nullptr);
  ~LiveDump() override;
  std::string Describe() const override { return label_; }
  std::vector<Role> Roles() override;
  std::optional<DbLocale> Locale() override;
  void Start() override;
  size_t Read(char* buf, size_t len) override;
  // Also ends the snapshot's transaction (its locks and snapshot let go); the session stays.
  DbState End() override;
  void Abort() noexcept override;
  // The server's major version (asked in the snapshot's session).
  int Major();

 private:
  Session& Snap();  // waits for the snapshot

  const Postgres& pg_;
  std::string label_;
  std::unique_ptr<Session> snap_;
  std::string snapshot_;
  std::shared_future<void> opened_;  // last: it sets the members above
  std::future<DbState> counting_;
  std::unique_ptr<Proc> dump_;
};

// The SQL of CREATE ROLE for `r` (attributes, no password).
std::string CreateRoleSql(const Role& r);

}  // namespace mig::db
