#include "db/dump.h"

#include "core/error.h"
#include "core/log.h"

namespace mig::db {

std::string CreateRoleSql(const Role& r) {
  auto flag = [](bool on, const char* yes, const char* no) { return std::string(" ") + (on ? yes : no); };
  return "CREATE ROLE " + QuoteIdent(r.name) + " WITH" + flag(r.super, "SUPERUSER", "NOSUPERUSER") +
         flag(r.inherit, "INHERIT", "NOINHERIT") + flag(r.createrole, "CREATEROLE", "NOCREATEROLE") +
         flag(r.createdb, "CREATEDB", "NOCREATEDB") + flag(r.login, "LOGIN", "NOLOGIN") +
         flag(r.replication, "REPLICATION", "NOREPLICATION") + flag(r.bypassrls, "BYPASSRLS", "NOBYPASSRLS") + ";";
}

LiveDump::LiveDump(const Postgres& pg, std::string label, std::unique_ptr<OpeningSession> started)
    : pg_(pg), label_(std::move(label)), opened_(std::async(std::launch::async, [this, started = std::move(started)] {
                                              static const char* const kExport =
                                                  "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY;\n"
                                                  "SELECT pg_export_snapshot();";
                                              if (started) {
                                                try {
                                                  snap_ = started->Take();
                                                  snapshot_ = snap_->Ask(kExport).at(0);
                                                  return;
                                                } catch (const Error& e) {  // it died while earlier steps ran
                                                  TheLog().info("the session to " + label_ + " started ahead failed (" +
                                                                e.what() + "): a new one is opened");
                                                }
                                              }
                                              snap_ = std::make_unique<Session>(pg_, pg_.target().db);
                                              snapshot_ = snap_->Ask(kExport).at(0);
                                            }).share()) {}

LiveDump::~LiveDump() {
  opened_.wait();  // its thread sets members
  Abort();
}

Session& LiveDump::Snap() {
  opened_.get();  // rethrows the opening's failure, each time asked
  return *snap_;
}

std::vector<Role> LiveDump::Roles() {
  std::vector<Role> out;
  for (const auto& row : Snap().Ask("SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,"
                                   " rolreplication, rolbypassrls FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1")) {
    auto f = Fields(row);
    if (f.size() != 8) continue;
    out.push_back({f[0], f[1] == "t", f[2] == "t", f[3] == "t", f[4] == "t", f[5] == "t", f[6] == "t", f[7] == "t"});
  }
  return out;
}

std::optional<DbLocale> LiveDump::Locale() {
  auto f = Fields(Snap().AskValue(
      "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = current_database()"));
  if (f.size() != 3) return std::nullopt;
  return DbLocale{f[0], f[1], f[2]};
}

int LiveDump::Major() {
  return std::stoi(Snap().AskValue("SELECT current_setting('server_version_num')::int / 10000"));
}

void LiveDump::Start() {
  // The rows are counted in the snapshot while pg_dump streams it (one session each).
  Session& snap = Snap();
  counting_ = std::async(std::launch::async, [&snap] { return snap.State(); });
  // Compressed: the bytes cross docker's stdio relay, which costs more than gzip -3
  // (measured: 4.5 s against 9.5 s uncompressed for pgbench scale 20; docs/benchmarks.md).
  dump_ = pg_.dump_host().Start(pg_.Tool("pg_dump", {"-Fc", "-Z3", "--snapshot=" + snapshot_, "-d", pg_.target().db}),
                                Proc::kStdout);
}

size_t LiveDump::Read(char* buf, size_t len) { return dump_->read(buf, len); }

DbState LiveDump::End() {
  int code = dump_->wait();
  std::string err = dump_->err_text();
  dump_.reset();
  counting_.wait();
  if (code != 0) Fail("pg_dump of " + label_ + " failed: " + err);
  DbState counted = counting_.get();  // throws when counting failed
  // The snapshot's transaction ends here, not when this is destroyed: what follows (a replay's
  // verification, its swap after a long merge, a backup's data/ part) must not hold back the
  // serving database's vacuum nor its tables' ACCESS SHARE locks.
  try {
    snap_->Ask("COMMIT;");
  } catch (const Error& e) {  // the session is closed then, and its transaction with it
    TheLog().info("the snapshot session of " + label_ + " ended: " + e.what());
  }
  return counted;
}

void LiveDump::Abort() noexcept {
  try {
    if (dump_) {
      dump_->kill();
      dump_->wait();
      dump_.reset();
    }
    if (counting_.valid()) counting_.wait();
  } catch (...) {
  }
}

}  // namespace mig::db
