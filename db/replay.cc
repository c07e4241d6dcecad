#include "db/replay.h"

#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"

namespace mig::db {

std::string StagingName(const std::string& db) { return db.substr(0, 48) + "__migrate_new"; }
std::string RetiredName(const std::string& db) { return db.substr(0, 48) + "__migrate_old"; }

namespace {

// A psql session held open on the source: its REPEATABLE READ transaction exports the
// snapshot that pg_dump then uses, so counts and dump see the same data.
class SnapshotSession {
 public:
  explicit SnapshotSession(const Postgres& pg)
      : pg_(pg),
        psql_(pg.Tool("psql", {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-P", "fieldsep=\x1f", "-d",
                               pg.target().db},
                      true),
              Child::kStdin | Child::kStdout) {
    snapshot_ = Ask("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\nSELECT pg_export_snapshot();\n").at(0);
  }
  ~SnapshotSession() {
    try {
      psql_.write("COMMIT;\n\\q\n");
      psql_.wait();
    } catch (...) {
    }
  }

  const std::string& snapshot() const { return snapshot_; }

  DbState State() {
    DbState st;
    ParseCounts(Ask(std::string(kCountQueriesSql) + " \\gexec\n"), st);
    ParseSequences(Ask(std::string(kSequencesSql) + ";\n"), st);
    return st;
  }

 private:
  // Sends SQL followed by a marker; returns the lines printed before the marker.
  std::vector<std::string> Ask(const std::string& sql) {
    static const std::string kMarker = "__migrate_end_of_answer__";
    psql_.write(sql + "\\echo " + kMarker + "\n");
    std::vector<std::string> lines;
    std::string line;
    while (psql_.read_line(line)) {
      if (line == kMarker) return lines;
      lines.push_back(line);
    }
    psql_.wait();
    Fail("the source database (container " + pg_.target().container + ") refused a query: " + psql_.err_text());
  }

  const Postgres& pg_;
  Child psql_;
  std::string snapshot_;
};

void CreateMissingRoles(const Postgres& src, const Postgres& dst, ReplayResult& r) {
  const char* sql =
      "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,"
      " rolbypassrls FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1";
  std::vector<std::string> have;
  for (const auto& row : dst.Query("SELECT rolname FROM pg_roles")) have.push_back(row);
  std::string create;
  for (const auto& row : src.Query(sql)) {
    std::vector<std::string> f;
    std::string cur;
    for (char c : row) {
      if (c == '\x1f') f.push_back(cur), cur.clear();
      else cur += c;
    }
    f.push_back(cur);
    if (f.size() != 8 || std::find(have.begin(), have.end(), f[0]) != have.end()) continue;
    auto flag = [&](int i, const char* yes, const char* no) { return std::string(" ") + (f[i] == "t" ? yes : no); };
    create += "CREATE ROLE " + QuoteIdent(f[0]) + " WITH" + flag(1, "SUPERUSER", "NOSUPERUSER") +
              flag(2, "INHERIT", "NOINHERIT") + flag(3, "CREATEROLE", "NOCREATEROLE") +
              flag(4, "CREATEDB", "NOCREATEDB") + flag(5, "LOGIN", "NOLOGIN") +
              flag(6, "REPLICATION", "NOREPLICATION") + flag(7, "BYPASSRLS", "NOBYPASSRLS") + ";\n";
    r.roles_created.push_back(f[0]);
  }
  if (!create.empty()) dst.Query(create, "postgres");
}

// Streams pg_dump's output (source) into pg_restore (target's staging database).
uint64_t Stream(const Postgres& src, const std::string& snapshot, const Postgres& dst, const std::string& staging,
                bool keep_owners, const ReplayOptions& opts) {
  Child dump(src.Tool("pg_dump", {"-Fc", "-Z0", "--snapshot=" + snapshot, "-d", src.target().db}), Child::kStdout);
  std::vector<std::string> restore_args = {"--exit-on-error", "-d", staging};
  if (!keep_owners) restore_args.insert(restore_args.begin(), {"--no-owner", "--no-acl"});
  Child restore(dst.Tool("pg_restore", restore_args, true), Child::kStdin);
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  std::string write_error;
  for (;;) {
    size_t n = dump.read(buf.data(), buf.size());
    if (n == 0) break;
    try {
      restore.write(buf.data(), n);
    } catch (const Error& e) {
      write_error = e.what();
      dump.kill();
      break;
    }
    total += n;
    if (opts.progress) opts.progress(total);
  }
  int dump_code = dump.wait();
  int restore_code = restore.wait();
  if (restore_code != 0 || !write_error.empty())
    Fail("pg_restore into the target failed: " + restore.err_text());
  if (dump_code != 0) Fail("pg_dump of the source failed: " + dump.err_text());
  return total;
}

std::vector<std::string> DbEncoding(const Postgres& pg) {
  auto row = pg.QueryValue(
      "SELECT pg_encoding_to_char(encoding) || chr(31) || datcollate || chr(31) || datctype"
      " FROM pg_database WHERE datname = current_database()");
  std::vector<std::string> f;
  std::string cur;
  for (char c : row) {
    if (c == '\x1f') f.push_back(cur), cur.clear();
    else cur += c;
  }
  f.push_back(cur);
  return f;
}

void CreateStaging(const Postgres& src, const Postgres& dst, const std::string& staging) {
  const std::string owner = dst.QueryValue(
      "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()");
  dst.Query("DROP DATABASE IF EXISTS " + QuoteIdent(staging) + " WITH (FORCE);", "postgres");
  auto enc = DbEncoding(src);
  std::string base = "CREATE DATABASE " + QuoteIdent(staging) + " WITH TEMPLATE template0 OWNER " + QuoteIdent(owner);
  if (enc.size() == 3) {
    try {
      dst.Query(base + " ENCODING " + QuoteLiteral(enc[0]) + " LC_COLLATE " + QuoteLiteral(enc[1]) + " LC_CTYPE " +
                    QuoteLiteral(enc[2]) + ";",
                "postgres");
      return;
    } catch (const Error& e) {
      TheLog().warn(std::string("the target cannot create a database with the source's locale (") + e.what() +
                    "); using the target's default locale");
    }
  }
  dst.Query(base + ";", "postgres");
}

void Swap(const Postgres& dst, const std::string& staging) {
  const std::string db = dst.target().db, retired = RetiredName(db);
  dst.Query("DROP DATABASE IF EXISTS " + QuoteIdent(retired) + ";", "postgres");
  dst.Query("ALTER DATABASE " + QuoteIdent(db) + " ALLOW_CONNECTIONS false;", "postgres");
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    try {
      dst.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (" + QuoteLiteral(db) + ", " +
                    QuoteLiteral(staging) + ") AND pid <> pg_backend_pid();\n"
                    "BEGIN;\nALTER DATABASE " + QuoteIdent(db) + " RENAME TO " + QuoteIdent(retired) + ";\n" +
                    "ALTER DATABASE " + QuoteIdent(staging) + " RENAME TO " + QuoteIdent(db) + ";\nCOMMIT;\n",
                "postgres");
      dst.Query("DROP DATABASE " + QuoteIdent(retired) + " WITH (FORCE);", "postgres");
      return;
    } catch (const Error& e) {
      last_error = e.what();
    }
  }
  dst.Query("ALTER DATABASE " + QuoteIdent(db) + " ALLOW_CONNECTIONS true;", "postgres");
  Fail("could not swap the replayed database in: " + last_error);
}

}  // namespace

bool RepairInterruptedSwap(const Postgres& dst) {
  const std::string db = dst.target().db, retired = RetiredName(db);
  if (dst.DatabaseExists(db) || !dst.DatabaseExists(retired)) return false;
  dst.Query("ALTER DATABASE " + QuoteIdent(retired) + " RENAME TO " + QuoteIdent(db) + ";\nALTER DATABASE " +
                QuoteIdent(db) + " ALLOW_CONNECTIONS true;",
            "postgres");
  return true;
}

ReplayResult Replay(const Postgres& src, const Postgres& dst, const ReplayOptions& opts) {
  ReplayResult r;
  const std::string staging = StagingName(dst.target().db);
  const bool keep_owners = dst.IsSuperuser();
  if (!keep_owners)
    TheLog().warn("the target's user " + dst.target().user + " is not a superuser: objects will be owned by it and "
                  "grants are not carried");
  SnapshotSession session(src);
  r.source = session.State();
  if (keep_owners) CreateMissingRoles(src, dst, r);
  CreateStaging(src, dst, staging);
  try {
    Stopwatch sw;
    r.dump_bytes = Stream(src, session.snapshot(), dst, staging, keep_owners, opts);
    r.dump_restore_seconds = sw.seconds();
    sw.restart();
    r.target = dst.State(staging);
    r.verify_seconds = sw.seconds();
    r.mismatches = CompareStates(r.source, r.target);
    if (!r.mismatches.empty()) {
      std::string list;
      for (const auto& m : r.mismatches) list += "\n  " + m;
      Fail("the replayed database does not match the source:" + list);
    }
    Swap(dst, staging);
  } catch (const Error&) {
    try {
      dst.Query("DROP DATABASE IF EXISTS " + QuoteIdent(staging) + " WITH (FORCE);", "postgres");
    } catch (const Error& e) {
      TheLog().warn(std::string("could not drop the staging database ") + staging + ": " + e.what());
    }
    throw;
  }
  return r;
}

}  // namespace mig::db
