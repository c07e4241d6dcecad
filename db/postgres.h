// A postgres server inside a container, reached with its own client tools over `docker exec`
// (no published port, no client on the host).
#pragma once

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/process.h"

namespace mig::db {

// How to reach one database.
struct PgTarget {
  std::string container;  // id or name of the running postgres container
  std::string user = "postgres";
  std::string password;
  std::string db = "postgres";
  std::string label;      // "source" / "target", for messages
  const Host* host = nullptr;  // where docker runs: nullptr is this machine
  // Where a replay's pg_dump is started, when not `host`: the agent of a remote migration,
  // which streams it over its own connection.
  const Host* dump_host = nullptr;
  // The client tools' application_name (PGAPPNAME) when not "": the cutover's own sessions say
  // who they are, so that ending the other clients spares them.
  std::string app_name;
};

// Row counts per table and sequence values: what the replay verifies.
struct DbState {
  std::map<std::string, int64_t> tables;        // "schema.table" -> rows
  std::map<std::string, std::string> sequences;  // "schema.seq" -> last_value ("" if never used)
};

// A server as preflight sees it.
struct ServerInfo {
  int major = 0;                // server major version
  bool db_exists = false;       // the target's database
  bool retired_exists = false;  // left by an interrupted swap
  int64_t db_size = 0;
  bool superuser = false;       // the configured user
};

// Quotes an SQL identifier / literal.
std::string QuoteIdent(const std::string& s);
std::string QuoteLiteral(const std::string& s);

class Postgres {
 public:
  explicit Postgres(PgTarget t) : t_(std::move(t)) {}
  const PgTarget& target() const { return t_; }
  const Host& host() const { return t_.host ? *t_.host : ThisHost(); }
  const Host& dump_host() const { return t_.dump_host ? *t_.dump_host : host(); }

  // docker exec [-i] -e PGPASSWORD container TOOL -U user ARGS
  std::vector<std::string> Tool(const std::string& tool, const std::vector<std::string>& args,
                                bool stdin_open = false) const;
  // Runs SQL (psql -X -At, ON_ERROR_STOP) in `db` (default: the target's); returns the output
  // rows, fields separated by '\x1f'. Throws mig::Error with psql's message on failure.
  std::vector<std::string> Query(const std::string& sql, const std::string& db = "") const;
  std::string QueryValue(const std::string& sql, const std::string& db = "") const;
  // What preflight needs to know, in one round trip (connected to the `postgres` database).
  ServerInfo Probe(const std::string& retired_db) const;
  // Probe(), retried until the server answers or `seconds` pass (then throws naming it).
  ServerInfo WaitReady(int seconds, const std::string& retired_db) const;
  // pg_dump -Fc of the database into `path` (fsynced). Returns its size.
  uint64_t DumpToFile(const std::string& path) const;

 private:
  PgTarget t_;
};

// A psql session held open inside the container: many statements for one `docker exec`
// (each costs a few hundred milliseconds). Statements run in autocommit unless the caller
// sends BEGIN. After a failed statement the session is closed and Ask() throws.
class Session {
 public:
  Session(const Postgres& pg, const std::string& db);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs SQL (one or more statements, psql meta-commands allowed) and returns the rows it
  // printed, fields separated by '\x1f'.
  std::vector<std::string> Ask(const std::string& sql);
  std::string AskValue(const std::string& sql);
  // Reconnects to another database of the same server (psql's \connect).
  void Connect(const std::string& db);
  // Row counts and sequences of the connected database.
  DbState State();
  const Postgres& postgres() const { return pg_; }

 private:
  const Postgres& pg_;
  std::unique_ptr<Proc> psql_;
  bool dead_ = false;
};

// A Session started on a thread: its start (over SSH an exec channel, a login) and psql's
// connection overlap the caller's next steps. The destructor waits for the thread and closes a
// session not taken. `pg` outlives this.
class OpeningSession {
 public:
  OpeningSession(const Postgres& pg, std::string db);
  OpeningSession(const OpeningSession&) = delete;  // its thread holds `this`
  OpeningSession& operator=(const OpeningSession&) = delete;
  // The session once started (asked once); a new one where starting it failed. Throws mig::Error when that
  // fails too. (One that died meanwhile fails its first question, as any session.)
  std::unique_ptr<Session> Take();

 private:
  const Postgres& pg_;
  const std::string db_;
  std::future<std::unique_ptr<Session>> started_;
};

// The SQL that builds one query counting the rows of every table (one result), for \gexec.
extern const char* const kCountQueriesSql;
// The statements (for \gexec) that take ACCESS SHARE locks on the tables kCountQueriesSql counts
// (materialized views aside): inside a transaction, no TRUNCATE, rewrite or DROP lands before it ends.
extern const char* const kLockCountedSql;
// The statements (for \gexec) that take SHARE locks on every table of the database's own schemas
// (unlogged ones too): inside a transaction, no INSERT, UPDATE or DELETE commits before it ends.
extern const char* const kHoldWritesSql;
extern const char* const kSequencesSql;
// The fields of one row printed with '\x1f' between them.
std::vector<std::string> Fields(const std::string& row);
// Parses psql -At output with \x1f between fields into a DbState part.
void ParseCounts(const std::vector<std::string>& rows, DbState& st);
void ParseSequences(const std::vector<std::string>& rows, DbState& st);
// Lines differing between two states ("public.users: 12 rows in the source, 11 in the target").
// `sequences_may_lead`: a target sequence ahead of the source's is no difference (a physical
// copy recovers a sequence at the value its WAL logged, up to 32 ahead: never one reused).
std::vector<std::string> CompareStates(const DbState& src, const DbState& dst, bool sequences_may_lead = false);

}  // namespace mig::db
