#include "db/postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/fd.h"
#include "core/log.h"

namespace mig::db {

// The tables a DbState counts (c: pg_class, n: pg_namespace). Not unlogged ones: a physical copy
// (pg_basebackup) holds them empty, by design.
#define MIG_COUNTED_TABLES                                                                        \
  " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"                                \
  " WHERE c.relkind IN ('r', 'p', 'm') AND (c.relkind <> 'm' OR c.relispopulated)"                \
  " AND c.relpersistence <> 'u'"                                                                  \
  " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"                                    \
  " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'"
const char* const kCountQueriesSql =
    "SELECT string_agg(format('SELECT %L, count(*) FROM %I.%I', n.nspname || '.' || c.relname, n.nspname,"
    " c.relname), ' UNION ALL ' ORDER BY n.nspname, c.relname)" MIG_COUNTED_TABLES;
const char* const kLockCountedSql =
    "SELECT format('LOCK TABLE %I.%I IN ACCESS SHARE MODE', n.nspname, c.relname)" MIG_COUNTED_TABLES
    " AND c.relkind <> 'm' ORDER BY n.nspname, c.relname";
#undef MIG_COUNTED_TABLES
const char* const kHoldWritesSql =
    "SELECT format('LOCK TABLE %I.%I IN SHARE MODE', n.nspname, c.relname)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY n.nspname, c.relname";
const char* const kSequencesSql =
    "SELECT schemaname || '.' || sequencename, coalesce(last_value::text, '') FROM pg_sequences ORDER BY 1";

std::string QuoteIdent(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string QuoteLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::vector<std::string> Postgres::Tool(const std::string& tool, const std::vector<std::string>& args,
                                        bool stdin_open) const {
  std::vector<std::string> c = {"docker", "exec"};
  if (stdin_open) c.push_back("-i");
  c.insert(c.end(), {"-e", "PGPASSWORD=" + t_.password});
  if (!t_.app_name.empty()) c.insert(c.end(), {"-e", "PGAPPNAME=" + t_.app_name});
  c.insert(c.end(), {t_.container, tool, "-U", t_.user});
  c.insert(c.end(), args.begin(), args.end());
  return c;
}

namespace {

std::vector<std::string> SplitRows(const std::string& out) {
  std::vector<std::string> rows;
  std::string cur;
  for (char c : out) {
    if (c == '\x1e') {
      rows.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  while (!cur.empty() && cur.back() == '\n') cur.pop_back();
  if (!cur.empty()) rows.push_back(cur);
  return rows;
}


}  // namespace

std::vector<std::string> Fields(const std::string& row) {
  std::vector<std::string> f;
  std::string cur;
  for (char c : row) {
    if (c == '\x1f') f.push_back(std::move(cur)), cur.clear();
    else cur += c;
  }
  f.push_back(cur);
  return f;
}

std::vector<std::string> Postgres::Query(const std::string& sql, const std::string& db) const {
  // The SQL as an argument, not on stdin: a program without stdin runs through migrate-agent on
  // an old server (no login of its own: docs/pipeline.md).
  auto cmd = Tool("psql", {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "fieldsep=\x1f",
                           "-P", "recordsep=\x1e", "-d", db.empty() ? t_.db : db, "-c", sql});
  ProcResult r = host().Run(cmd, {}, std::chrono::seconds(3600));
  if (!r.ok())
    Fail("the " + t_.label + " database (container " + t_.container + ") refused a query: " + r.last_error_line());
  return SplitRows(r.out);
}

std::string Postgres::QueryValue(const std::string& sql, const std::string& db) const {
  auto rows = Query(sql, db);
  return rows.empty() ? "" : rows.front();
}

ServerInfo Postgres::Probe(const std::string& retired) const {
  auto f = Fields(QueryValue(
      "SELECT current_setting('server_version_num')::int / 10000,"
      " (SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(t_.db) + "),"
      " (SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(retired) + "),"
      " (SELECT coalesce(sum(pg_database_size(datname)), 0) FROM pg_database WHERE datname = " + QuoteLiteral(t_.db) + "),"
      " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
      "postgres"));
  if (f.size() != 5) Fail("unexpected answer from the " + t_.label + " database (container " + t_.container + ")");
  ServerInfo i;
  i.major = std::stoi(f[0]);
  i.db_exists = f[1] == "1";
  i.retired_exists = f[2] == "1";
  i.db_size = std::stoll(f[3]);
  i.superuser = f[4] == "t";
  return i;
}

ServerInfo Postgres::WaitReady(int seconds, const std::string& retired) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (;;) {
    try {
      return Probe(retired);  // also proves the credentials
    } catch (const Error& e) {
      if (std::chrono::steady_clock::now() > deadline)
        Fail("the " + t_.label + " postgres (container " + t_.container + ") does not answer after " +
             std::to_string(seconds) + " s: " + e.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a probe itself takes about as long
  }
}

Session::Session(const Postgres& pg, const std::string& db)
    : pg_(pg),
      psql_(pg.host().Start(pg.Tool("psql", {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "fieldsep=\x1f",
                                             "-P", "recordsep=\x1e", "-d", db},
                                    true),
                            Proc::kStdin | Proc::kStdout)) {}

OpeningSession::OpeningSession(const Postgres& pg, std::string db)
    : pg_(pg), db_(std::move(db)), started_(std::async(std::launch::async, [this] {
        return std::make_unique<Session>(pg_, db_);
      })) {}

std::unique_ptr<Session> OpeningSession::Take() {
  if (!started_.valid()) Fail("the session to the " + pg_.target().label + " database started ahead was taken before");
  try {
    return started_.get();
  } catch (const Error& e) {
    TheLog().info(std::string("a session to the ") + pg_.target().label + " database started ahead failed (" +
                  e.what() + "): a new one is opened");
  }
  return std::make_unique<Session>(pg_, db_);
}

Session::~Session() {
  if (dead_) return;
  try {
    psql_->write("\\q\n");
    psql_->wait();
  } catch (...) {
  }
}

std::vector<std::string> Session::Ask(const std::string& sql) {
  static const std::string kMarker = "__migrate_end_of_answer__\n";
  if (dead_) Fail("the " + pg_.target().label + " database session was closed by an earlier error");
  try {
    // A statement left open would swallow the next one: close it (";" alone is a no-op).
    auto last = sql.find_last_not_of(" \t\n");
    bool closed = last != std::string::npos && sql[last] == ';';
    psql_->write(sql + (closed ? "" : "\n;") + "\n\\echo " + kMarker);
  } catch (const Error&) {
    // psql is gone; its stderr says why (read below).
  }
  std::string out;
  char buf[65536];
  for (;;) {
    if (out.size() >= kMarker.size() && out.compare(out.size() - kMarker.size(), kMarker.size(), kMarker) == 0 &&
        (out.size() == kMarker.size() || out[out.size() - kMarker.size() - 1] == '\n'))
      return SplitRows(out.substr(0, out.size() - kMarker.size()));
    size_t n = psql_->read(buf, sizeof buf);
    if (n == 0) break;
    out.append(buf, n);
  }
  dead_ = true;
  psql_->wait();
  std::string err = psql_->err_text();
  while (!err.empty() && err.back() == '\n') err.pop_back();
  Fail("the " + pg_.target().label + " database (container " + pg_.target().container + ") refused a query: " + err);
}

std::string Session::AskValue(const std::string& sql) {
  auto rows = Ask(sql);
  return rows.empty() ? "" : rows.front();
}

void Session::Connect(const std::string& db) { Ask("\\connect " + QuoteIdent(db)); }

DbState Session::State() {
  // On a machine of two cores or fewer, parallel workers only add their start to a count (which
  // runs beside other work: the other side's count, the copy's credentials): measured on a
  // pgbench table of 2M rows, 0.33-0.36 s alone against 0.49-0.52 s with two workers after a
  // start, 0.18-0.21 s against 0.26-0.49 s warm. A server elsewhere keeps its own setting.
  static const bool serial = std::thread::hardware_concurrency() <= 2;
  const bool here_serial = serial && pg_.host().local();
  DbState st;
  ParseCounts(Ask(std::string(here_serial ? "SET max_parallel_workers_per_gather = 0;\n" : "") + kCountQueriesSql +
                  " \\gexec"),
              st);
  ParseSequences(Ask(std::string(here_serial ? "RESET max_parallel_workers_per_gather;\n" : "") + kSequencesSql + ";"), st);
  return st;
}

void ParseCounts(const std::vector<std::string>& rows, DbState& st) {
  for (const auto& r : rows) {
    auto f = Fields(r);
    if (f.size() == 2) st.tables[f[0]] = std::stoll(f[1]);
  }
}

void ParseSequences(const std::vector<std::string>& rows, DbState& st) {
  for (const auto& r : rows) {
    auto f = Fields(r);
    if (f.size() == 2) st.sequences[f[0]] = f[1];
  }
}

namespace {

// A sequence's last_value as a number ("" — never used — below every value).
bool SequenceBelow(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return a.empty() && !b.empty();
  try {
    return std::stoll(a) < std::stoll(b);
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

std::vector<std::string> CompareStates(const DbState& src, const DbState& dst, bool sequences_may_lead) {
  std::vector<std::string> diff;
  for (const auto& [t, n] : src.tables) {
    auto it = dst.tables.find(t);
    if (it == dst.tables.end()) diff.push_back("table " + t + " is missing in the target");
    else if (it->second != n)
      diff.push_back("table " + t + ": " + std::to_string(n) + " rows in the source, " +
                     std::to_string(it->second) + " in the target");
  }
  for (const auto& [t, n] : dst.tables)
    if (!src.tables.count(t)) diff.push_back("table " + t + " is in the target but not in the source");
  for (const auto& [s, v] : src.sequences) {
    auto it = dst.sequences.find(s);
    if (it == dst.sequences.end()) diff.push_back("sequence " + s + " is missing in the target");
    else if (it->second != v && !(sequences_may_lead && SequenceBelow(v, it->second)))
      diff.push_back("sequence " + s + ": " + (v.empty() ? "unused" : v) + " in the source, " +
                     (it->second.empty() ? "unused" : it->second) + " in the target");
  }
  for (const auto& [s, v] : dst.sequences)
    if (!src.sequences.count(s)) diff.push_back("sequence " + s + " is in the target but not in the source");
  return diff;
}

uint64_t Postgres::DumpToFile(const std::string& path) const {
  return OutputToFile(host(), Tool("pg_dump", {"-Fc", "-d", t_.db}), path, "pg_dump of the " + t_.label + " database");
}

}  // namespace mig::db
