#include "db/physical.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timer.h"

namespace mig::db {

namespace {

constexpr const char* kStage = ".migrate-new";  // the copy staged inside PGDATA (same file system)

// Unpacks the gzip'd tar on stdin into PGDATA/.migrate-new, owned as PGDATA is ($1: PGDATA).
const char* const kStageScript =
    "set -e; d=$1; s=\"$d/.migrate-new\"; rm -rf \"$s\"; mkdir -m 700 \"$s\"; tar -xzf - -C \"$s\"; "
    "chown -R \"$(stat -c %u:%g \"$d\")\" \"$s\"";

// In a helper container with the stopped target's volumes ($1: PGDATA): the target's own server
// settings kept in the stage, the rest of PGDATA removed, the stage's entries moved up.
const char* const kSwapScript =
    "set -e; cd \"$1\"; s=.migrate-new; "
    "[ -d \"$s\" ] || { echo \"no staged copy in $1\" >&2; exit 3; }; "
    "for f in postgresql.conf postgresql.auto.conf pg_hba.conf pg_ident.conf; do "
    "if [ -f \"$f\" ]; then cp -p \"$f\" \"$s/$f\"; fi; done; "
    "for f in * .[!.]* ..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then [ \"$f\" = \"$s\" ] || rm -rf \"$f\"; fi; done; "
    "for f in \"$s\"/* \"$s\"/.[!.]* \"$s\"/..?*; do if [ -e \"$f\" ] || [ -L \"$f\" ]; then mv \"$f\" .; fi; done; "
    "rmdir \"$s\"";

ProcResult Docker(const Host& host, std::vector<std::string> args, int seconds) {
  args.insert(args.begin(), "docker");
  return host.Run(args, {}, std::chrono::seconds(seconds));
}

// Holds the source's WAL from now until destroyed (a temporary replication slot in a held
// session), so that -X fetch finds all of it at the end of a long backup. Best effort: a server
// without free slots still gets its backup (its WAL is kept as its settings keep it).
class WalHold {
 public:
  explicit WalHold(const Postgres& src) {
    try {
      session_.emplace(src, "postgres");
      session_->Ask("SELECT 1 FROM pg_create_physical_replication_slot('migrate_copy_" + std::to_string(::getpid()) +
                    "', true, true);");
    } catch (const Error& e) {
      TheLog().warn(std::string("could not hold the source's WAL for the copy (") + e.what() +
                    "): it goes on; a checkpoint during a long copy may make it fail");
      session_.reset();
    }
  }

 private:
  std::optional<Session> session_;
};

}  // namespace

DbMethod ParseDbMethod(const std::string& s) {
  if (s == "logical") return DbMethod::kLogical;
  if (s == "physical") return DbMethod::kPhysical;
  if (s == "auto") return DbMethod::kAuto;
  BadUsage("--db-method is logical, physical or auto, not \"" + s + "\"");
}

std::string DbMethodName(DbMethod m) {
  switch (m) {
    case DbMethod::kLogical: return "logical";
    case DbMethod::kPhysical: return "physical";
    case DbMethod::kAuto: return "auto";
  }
  return "?";
}

DbMethodChoice ChooseDbMethod(DbMethod requested, const PhysicalFacts& f) {
  if (requested == DbMethod::kLogical) return {DbMethod::kLogical, "a dump replayed (--db-method logical)"};
  std::string no;
  if (f.src_major != f.dst_major)
    no = "the source runs postgres " + std::to_string(f.src_major) + " and the target " + std::to_string(f.dst_major) +
         ": a physical copy cannot cross a major version";
  else if (!f.src_can_back_up)
    no = "the source's user is neither a superuser nor allowed REPLICATION: it cannot take a base backup";
  else if (f.src_db != f.dst_db &&
           std::find(f.src_databases.begin(), f.src_databases.end(), f.dst_db) != f.src_databases.end())
    no = "the source's cluster has a database " + f.dst_db + " besides " + f.src_db +
         ": the copy of " + f.src_db + " cannot take the target's name";
  if (no.empty())
    return {DbMethod::kPhysical, "the cluster copied as files (postgres " + std::to_string(f.src_major) + " on both sides)"};
  if (requested == DbMethod::kPhysical)
    BadInput("--db-method physical cannot be used: " + no + " (use --db-method logical, or auto)");
  return {DbMethod::kLogical, "a dump replayed: " + no};
}

ClusterHome FindClusterHome(const Postgres& pg) {
  ClusterHome h;
  h.container = pg.target().container;
  ProcResult r = Docker(pg.host(), {"inspect", "--type", "container", h.container}, 60);
  if (!r.ok()) Fail("cannot inspect the " + pg.target().label + " postgres container " + h.container + ": " + r.last_error_line());
  try {
    const nlohmann::json j = nlohmann::json::parse(r.out).at(0);
    h.image = j.at("Image").get<std::string>();
    for (const auto& e : j.at("Config").at("Env")) {
      const std::string v = e.get<std::string>();
      if (v.rfind("PGDATA=", 0) == 0) h.pgdata = v.substr(7);
    }
  } catch (const std::exception& e) {
    Fail("docker inspect of the " + pg.target().label + " postgres container " + h.container +
         " gave an answer not understood: " + e.what());
  }
  if (h.pgdata.empty()) h.pgdata = "/var/lib/postgresql/data";  // the postgres image's default
  if (h.pgdata.front() != '/' || h.pgdata.find("..") != std::string::npos)
    Fail("the " + pg.target().label + " postgres container's PGDATA is not a plain absolute path: " + h.pgdata);
  return h;
}

std::vector<std::string> BaseBackupArgv(const Postgres& pg) {
  return pg.Tool("pg_basebackup",
                 {"-D", "-", "-F", "tar", "-X", "fetch", "-c", "fast", "--compress=client-gzip:1", "--label=migrate"});
}

uint64_t BaseBackupToFile(const Postgres& pg, const std::string& path) {
  return OutputToFile(pg.host(), BaseBackupArgv(pg), path, "the base backup of the " + pg.target().label + "'s cluster");
}

std::string RestoreClusterCommand(const ClusterHome& home, const std::string& file) {
  return CommandLine({"docker", "stop", home.container}) + " && " +
         CommandLine({"docker", "run", "--rm", "-i", "--network", "none", "-u", "0", "--volumes-from", home.container,
                      "--entrypoint", "sh", home.image, "-c",
                      "cd \"$1\" && find . -mindepth 1 -maxdepth 1 -exec rm -rf {} + && tar -xzf -", "sh",
                      home.pgdata}) +
         " < " + CommandLine({file}) + " && " + CommandLine({"docker", "start", home.container});
}

std::string ReapplyCredentialsSql(const std::string& user, const std::string& password, const std::string& from_db,
                                  const std::string& to_db) {
  std::string sql = "SELECT 'CREATE ROLE ' || quote_ident(" + QuoteLiteral(user) +
                    ") WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + QuoteLiteral(user) + ") \\gexec\n" +
                    "ALTER ROLE " + QuoteIdent(user) + " WITH LOGIN SUPERUSER PASSWORD " + QuoteLiteral(password) + ";\n";
  if (from_db != to_db) sql += "ALTER DATABASE " + QuoteIdent(from_db) + " RENAME TO " + QuoteIdent(to_db) + ";\n";
  return sql;
}

CopyClusterResult CopyCluster(const Postgres& src, const Postgres& dst, const ClusterHome& home,
                              const CopyClusterOptions& opts) {
  CopyClusterResult r;
  Stopwatch sw;
  auto lap = [&](const char* name) {
    r.timings.emplace_back(name, sw.seconds());
    TheLog().file_only(std::string("physical copy: ") + name + " took " + std::to_string(sw.seconds()) + " s");
    sw.restart();
  };
  const Host& there = dst.host();
  const std::string stage = home.pgdata + "/" + kStage;
  auto drop_stage = [&] {
    ProcResult d = Docker(there, {"exec", "-u", "0", home.container, "rm", "-rf", stage}, 300);
    if (!d.ok()) TheLog().warn("could not remove the staged copy " + stage + " in " + home.container + ": " + d.last_error_line());
  };

  // 1. The source's base backup, staged in the target's container while it runs, verified.
  std::future<DbState> source_count;
  // The helper of the swap, made before the target stops (its start alone is then downtime).
  std::string helper;
  auto drop_helper = [&] {
    if (!helper.empty()) Docker(there, {"rm", "-f", helper}, 60);
  };
  try {
    {
      WalHold hold(src);
      auto out = src.dump_host().Start(BaseBackupArgv(src), Proc::kStdout);
      auto in = there.Start({"docker", "exec", "-i", "-u", "0", home.container, "sh", "-c", kStageScript, "sh", home.pgdata},
                            Proc::kStdin);
      const RelayResult rr = Relay(*out, *in, opts.progress);
      r.bytes = rr.bytes;
      // The source as the backup ended, counted while the copy is verified and swapped in.
      source_count = std::async(std::launch::async, [&src] { return Session(src, src.target().db).State(); });
      lap("base_backup");
      if (rr.from_code != 0 && !rr.to_stopped)
        Fail("pg_basebackup of the source failed: " + TrimEnd(out->err_text()));
      if (rr.to_stopped || rr.to_code != 0)
        Fail("unpacking the source's base backup in the target's container failed: " + TrimEnd(in->err_text()));
    }
    ProcResult v = Docker(there, {"exec", "-u", "0", home.container, "pg_verifybackup", "-q", stage}, 1800);
    if (!v.ok()) Fail("the copy of the source's cluster does not verify (pg_verifybackup): " + v.last_error_line());
    lap("verify_files");
    if (opts.before_swap) opts.before_swap();
    ProcResult made = Docker(there, {"create", "--network", "none", "-u", "0", "--volumes-from", home.container,
                                     "--entrypoint", "sh", home.image, "-c", kSwapScript, "sh", home.pgdata}, 120);
    if (!made.ok()) Fail("cannot make the helper container of the swap: " + made.last_error_line());
    helper = TrimEnd(made.out);
  } catch (const Error&) {
    drop_helper();
    drop_stage();
    if (source_count.valid()) source_count.wait();
    throw;
  }

  // 2. The swap, with the target stopped.
  ProcResult stop = Docker(there, {"stop", "-t", "60", home.container}, 120);
  if (!stop.ok()) {
    drop_helper();
    drop_stage();
    Fail("cannot stop the target's postgres (" + home.container + ") for the swap: " + stop.last_error_line());
  }
  lap("stop");
  ProcResult swap = Docker(there, {"start", "-a", helper}, 600);
  drop_helper();
  lap("swap");
  ProcResult start = Docker(there, {"start", home.container}, 120);
  if (!swap.ok()) Fail("the swap of the copied cluster into " + home.container + " failed: " + swap.last_error_line());
  if (!start.ok()) Fail("cannot start the target's postgres (" + home.container + ") on the copied cluster: " + start.last_error_line());

  // 3. The target's credentials and database name, as the source's user (the copy's roles).
  PgTarget admin_t = dst.target();
  admin_t.user = src.target().user;
  admin_t.password = src.target().password;
  admin_t.db = "postgres";
  admin_t.dump_host = nullptr;
  const Postgres admin(admin_t);
  admin.WaitReady(120, "");
  lap("start");
  {
    Session s(admin, "template1");
    s.Ask(ReapplyCredentialsSql(dst.target().user, dst.target().password, src.target().db, dst.target().db));
  }
  lap("credentials");

  // 4. Rows and sequences: the copy against the source as the backup ended.
  r.source = source_count.get();
  {
    Session count(dst, dst.target().db);
    r.target = count.State();
  }
  r.mismatches = CompareStates(r.source, r.target, true);
  if (!r.mismatches.empty()) {
    Session again(src, src.target().db);
    r.source_changed = !CompareStates(r.source, again.State()).empty();
  }
  lap("verify_rows");
  return r;
}

}  // namespace mig::db
