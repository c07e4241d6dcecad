#include "db/replay.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"

namespace mig::db {

std::string StagingName(const std::string& db) { return db.substr(0, 48) + "__migrate_new"; }
std::string RetiredName(const std::string& db) { return db.substr(0, 48) + "__migrate_old"; }

namespace {

// Creates the roles the source has and the target lacks (attributes, no password).
void CreateMissingRoles(const std::vector<Role>& roles, Session& admin, ReplayResult& r) {
  auto have = admin.Ask("SELECT rolname FROM pg_roles");
  std::string create;
  for (const auto& role : roles) {
    if (std::find(have.begin(), have.end(), role.name) != have.end()) continue;
    create += CreateRoleSql(role) + "\n";
    r.roles_created.push_back(role.name);
  }
  if (!create.empty()) admin.Ask(create);
}

// Streams the dump (already started) into pg_restore (the target's staging database); returns
// its bytes and the state the source says it holds.
uint64_t Stream(DumpSource& src, const Postgres& dst, const std::string& staging, const ReplayOptions& opts,
                DbState& expected) {
  auto restore_proc = dst.host().Start(dst.Tool("pg_restore", {"--exit-on-error", "-d", staging}, true), Proc::kStdin);
  Proc& restore = *restore_proc;
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  bool write_failed = false;
  try {
    for (;;) {
      size_t n = src.Read(buf.data(), buf.size());
      if (n == 0) break;
      try {
        restore.write(buf.data(), n);
      } catch (const Error&) {
        write_failed = true;  // pg_restore stopped: its stderr says why
        break;
      }
      total += n;
      if (opts.progress) opts.progress(total);
    }
  } catch (const Error&) {
    src.Abort();
    restore.kill();
    restore.wait();
    throw;
  }
  if (write_failed) src.Abort();
  restore.close_stdin();
  int restore_code = restore.wait();
  if (write_failed) Fail("pg_restore into the target failed: " + restore.err_text());
  // A dump cut short also fails pg_restore: the producer's failure is the cause to name.
  if (restore_code != 0) {
    src.End();
    Fail("pg_restore into the target failed: " + restore.err_text());
  }
  expected = src.End();
  return total;
}

// A fresh staging database owned like the target's, with the source's encoding and locale.
void CreateStaging(const std::optional<DbLocale>& want, Session& admin, const std::string& db,
                   const std::string& staging) {
  // The target's owner, encoding and locale in one question.
  auto own = Fields(admin.AskValue("SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, "
                                   "datctype FROM pg_database WHERE datname = " + QuoteLiteral(db)));
  if (own.size() != 4) Fail("the target database " + db + " is not in pg_database: was it dropped meanwhile?");
  admin.Ask("DROP DATABASE IF EXISTS " + QuoteIdent(staging) + " WITH (FORCE);");
  std::string base = "CREATE DATABASE " + QuoteIdent(staging) + " WITH TEMPLATE template0 OWNER " + QuoteIdent(own[0]);
  if (want) {
    const std::string with_locale = base + " ENCODING " + QuoteLiteral(want->encoding) + " LC_COLLATE " +
                                    QuoteLiteral(want->collate) + " LC_CTYPE " + QuoteLiteral(want->ctype) + ";";
    // The target's own encoding and locale are sure to work: no trial needed.
    if (DbLocale{own[1], own[2], own[3]} == *want) {
      admin.Ask(with_locale);
      return;
    }
    // Try the source's locale in a session of its own: a failure closes the session.
    try {
      Session probe(admin.postgres(), "postgres");
      probe.Ask(with_locale);
      return;
    } catch (const Error& e) {
      TheLog().warn(std::string("the target cannot create a database with the source's locale (") + e.what() +
                    "); using the target's default locale");
    }
  }
  admin.Ask(base + ";");
}

// Puts staging in place of the target database; the old one, renamed RetiredName(db), is
// dropped unless `keep_retired` (then DropRetired does it).
void Swap(const Postgres& dst, Session& first, const std::string& staging, bool keep_retired) {
  const std::string db = dst.target().db, retired = RetiredName(db);
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    try {
      // The replay's own session first (connected to "postgres"); a fresh one after a failure.
      std::optional<Session> fresh;
      if (attempt > 0) fresh.emplace(dst, "postgres");
      Session& admin = attempt > 0 ? *fresh : first;
      if (attempt > 0) {
        // The session that failed may have committed the renames before it died (a psql killed
        // after its COMMIT reached the server): then the retired database is the target's
        // previous one, which the DROP below must never take for a leftover.
        const auto f = Fields(admin.AskValue(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(staging) +
            "), (SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(retired) +
            "), (SELECT count(*) FROM pg_database WHERE datname = " + QuoteLiteral(db) + ")"));
        if (f.size() == 3 && f[0] == "0" && f[1] == "1" && f[2] == "1") {
          if (!keep_retired) admin.Ask("DROP DATABASE " + QuoteIdent(retired) + " WITH (FORCE);");
          return;
        }
      }
      admin.Ask("DROP DATABASE IF EXISTS " + QuoteIdent(retired) + " WITH (FORCE);\n"
                "ALTER DATABASE " + QuoteIdent(db) + " ALLOW_CONNECTIONS false;\n"
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname IN (" + QuoteLiteral(db) + ", " +
                QuoteLiteral(staging) + ") AND pid <> pg_backend_pid();\n"
                "BEGIN;\nALTER DATABASE " + QuoteIdent(db) + " RENAME TO " + QuoteIdent(retired) + ";\n" +
                "ALTER DATABASE " + QuoteIdent(staging) + " RENAME TO " + QuoteIdent(db) + ";\nCOMMIT;" +
                (keep_retired ? std::string() : "\nDROP DATABASE " + QuoteIdent(retired) + " WITH (FORCE);"));
      return;
    } catch (const Error& e) {
      last_error = e.what();
    }
  }
  try {
    Session admin(dst, "postgres");
    admin.Ask("ALTER DATABASE " + QuoteIdent(db) + " ALLOW_CONNECTIONS true;");
  } catch (const Error&) {
  }
  Fail("could not swap the replayed database in: " + last_error);
}

}  // namespace

void DropRetired(const Postgres& dst, bool detach) {
  const std::string retired = RetiredName(dst.target().db);
  const std::string sql = "DROP DATABASE IF EXISTS " + QuoteIdent(retired) + " WITH (FORCE);";
  std::string why;
  if (detach) {
    std::vector<std::string> argv = dst.Tool("psql", {"-X", "-q", "-d", "postgres", "-c", sql});
    argv.insert(argv.begin() + 2, "-d");  // docker exec -d: runs on in the container
    ProcResult r = dst.host().Run(argv, {}, std::chrono::seconds(60));
    if (r.ok()) return;
    why = r.last_error_line();
  } else {
    try {
      Session admin(dst, "postgres");
      admin.Ask(sql);
      return;
    } catch (const Error& e) {
      why = e.what();
    }
  }
  Fail("the target's previous database, renamed " + retired + ", could not be dropped (" + why +
       "): it only takes room; the next migration drops it, or drop it by hand (DROP DATABASE \"" + retired + "\")");
}

bool RepairInterruptedSwap(const Postgres& dst) {
  const std::string db = dst.target().db, retired = RetiredName(db);
  ServerInfo i = dst.Probe(retired);
  if (i.db_exists || !i.retired_exists) return false;
  Session admin(dst, "postgres");
  admin.Ask("ALTER DATABASE " + QuoteIdent(retired) + " RENAME TO " + QuoteIdent(db) + ";\nALTER DATABASE " +
            QuoteIdent(db) + " ALLOW_CONNECTIONS true;");
  return true;
}

ReplayResult Replay(DumpSource& src, const Postgres& dst, const ReplayOptions& opts) {
  ReplayResult r;
  Laps lap(r.timings, "replay");
  const std::string db = dst.target().db, staging = StagingName(db);
  const auto keep_going = [&opts] {
    if (opts.keep_going) opts.keep_going();
  };
  keep_going();
  // The target's user is a superuser (checked in preflight).
  std::unique_ptr<Session> own = opts.admin ? opts.admin->Take() : std::make_unique<Session>(dst, "postgres");
  lap("target_session");
  const std::vector<Role> roles = src.Roles();
  lap("source_roles");
  keep_going();  // the roles are the first change to the target's cluster
  try {
    CreateMissingRoles(roles, *own, r);
  } catch (const Error& e) {
    if (!opts.admin) throw;
    // A session started ahead that died while earlier steps ran (a restart of the target's
    // postgres): its first question fails. Once more in a new one (roles made meanwhile are seen).
    TheLog().info(std::string("the session to the target started ahead failed (") + e.what() + "): a new one is opened");
    own = std::make_unique<Session>(dst, "postgres");
    r.roles_created.clear();
    CreateMissingRoles(roles, *own, r);
  }
  Session& admin = *own;
  const std::optional<DbLocale> locale = src.Locale();
  keep_going();
  // The dump starts before the staging database is made: its program's start, login and first
  // catalog reads overlap CREATE DATABASE; it waits on its pipe until pg_restore reads.
  src.Start();
  try {
    CreateStaging(locale, admin, db, staging);
    lap("staging");
    r.dump_bytes = Stream(src, dst, staging, opts, r.source);
    lap("dump_restore");
    keep_going();
    admin.Connect(staging);
    r.target = admin.State();
    admin.Connect("postgres");
    r.mismatches = CompareStates(r.source, r.target);
    lap("verify");
    if (!r.mismatches.empty()) {
      std::string list;
      for (const auto& m : r.mismatches) list += "\n  " + m;
      Fail("the replayed database does not match " + src.Describe() + ":" + list);
    }
    if (opts.before_swap) opts.before_swap();
    Swap(dst, admin, staging, opts.keep_retired);
    lap("swap");
  } catch (const Error&) {
    src.Abort();  // where it still runs (a failure before its end)
    try {
      Session cleanup(dst, "postgres");
      cleanup.Ask("DROP DATABASE IF EXISTS " + QuoteIdent(staging) + " WITH (FORCE);");
    } catch (const Error& e) {
      TheLog().warn(std::string("could not drop the staging database ") + staging + ": " + e.what());
    }
    throw;
  }
  return r;
}

}  // namespace mig::db
