#include "db/physical.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <map>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timer.h"
#include "db/backup_manifest.h"
#include "db/docker_exec.h"
#include "db/stage.h"

namespace mig::db {

namespace {

// Holds the source's WAL from now until destroyed (a temporary replication slot in a held
// session), so that -X fetch finds all of it at the end of a long backup. Best effort: a server
// without free slots still gets its backup (its WAL is kept as its settings keep it).
class WalHold {
 public:
  // `ahead`: a session to src's database `db` opened earlier (may be null; one that died
  // meanwhile is replaced by a new one).
  WalHold(const Postgres& src, const std::string& db, OpeningSession* ahead) {
    const std::string slot = "SELECT 1 FROM pg_create_physical_replication_slot('migrate_copy_" +
                             std::to_string(::getpid()) + "', true, true);";
    try {
      if (ahead) {
        try {
          session_ = ahead->Take();
          session_->Ask(slot);
          return;
        } catch (const Error&) {  // it ended while the run went on (an idle timeout, a restart)
          session_.reset();
        }
      }
      session_ = std::make_unique<Session>(src, db);
      session_->Ask(slot);
    } catch (const Error& e) {
      TheLog().warn(std::string("could not hold the source's WAL for the copy (") + e.what() +
                    "): it goes on; a checkpoint during a long copy may make it fail");
      session_.reset();
    }
  }
  // The session the WAL is held in (null when it could not be held).
  Session* session() const { return session_.get(); }

 private:
  std::unique_ptr<Session> session_;
};

constexpr const char* kSnapshotSql = "SELECT pg_current_snapshot()::text";

SourceMark Mark(Session& s) {
  SourceMark m;
  m.snapshot = s.AskValue(kSnapshotSql);
  DbState st;
  ParseSequences(s.Ask(std::string(kSequencesSql) + ";"), st);
  m.sequences = std::move(st.sequences);
  return m;
}

// The source counted, and marked after the count (its snapshot then, the count's sequences).
struct SourceAfter {
  DbState state;
  SourceMark mark;
};

// A replication slot that keeps the source's WAL from now on (made again when a failed run left one).
std::string MakeSlotSql(const std::string& slot) {
  return "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = " +
         QuoteLiteral(slot) + ";\nSELECT 1 FROM pg_create_physical_replication_slot(" + QuoteLiteral(slot) +
         ", true, false);";
}

}  // namespace

bool WrittenMeanwhile(const std::optional<SourceMark>& before, const SourceMark& after) {
  return before && (before->snapshot != after.snapshot || before->sequences != after.sequences);
}

bool PidFileSaysReady(const std::string& folder, bool standby) {
  const auto began = std::chrono::steady_clock::now();
  bool seen = false;
  for (auto now = began; now - began < std::chrono::seconds(seen ? 30 : 3); now = std::chrono::steady_clock::now()) {
    std::optional<std::string> pid_file;
    try {
      pid_file = ReadSmallFile(folder + "/postmaster.pid", 64 << 10);
    } catch (const Error&) {  // unreadable for a moment: asked again
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (pid_file) {
      seen = true;
      const std::vector<std::string> lines = Split(*pid_file, '\n');
      // Line 8 (LOCK_FILE_LINE_PM_STATUS): "starting", "stopping", "ready   ", "standby ".
      if (lines.size() >= 8 && (lines[7].rfind("ready", 0) == 0 || (standby && lines[7].rfind("standby", 0) == 0)))
        return true;
    } else if (seen) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Postgres CopyAdmin(const Postgres& src, const Postgres& dst) {
  PgTarget t = dst.target();
  t.user = src.target().user;
  t.password = src.target().password;
  t.db = "postgres";
  t.dump_host = nullptr;
  return Postgres(t);
}

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
  else if (f.src_major < kPhysicalMinMajor)
    no = "postgres " + std::to_string(f.src_major) + " is older than " + std::to_string(kPhysicalMinMajor) +
         ", whose pg_basebackup compresses what crosses docker's relay";
  else if (!f.dst_home_problem.empty())
    no = f.dst_home_problem;
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

DbMethodChoice ChooseTwoPhaseMethod(DbMethod requested, bool given, const PhysicalFacts& f) {
  if (given) return ChooseDbMethod(requested, f);
  DbMethodChoice c = ChooseDbMethod(DbMethod::kAuto, f);
  if (c.method != DbMethod::kPhysical && f.src_major == f.dst_major) {
    const std::string why = c.why.substr(c.why.find(": ") + 2);  // "a dump replayed: <why>"
    BadInput("--two-phase copies the database as a standby, but " + why +
             " (or --db-method logical: its dump replayed inside the downtime, which then grows with the database)");
  }
  return c;
}

std::string PgdataProblem(const std::string& pgdata, const std::vector<std::string>& mounts) {
  if (pgdata.size() < 2 || pgdata.front() != '/' || pgdata.find("/..") != std::string::npos ||
      pgdata.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-") != std::string::npos)
    return "its data directory is not a plain absolute path (" + pgdata + ")";
  for (const auto& m : mounts) {
    if (m == pgdata || (pgdata.rfind(m + "/", 0) == 0 && m != "/")) return "";
  }
  return "its data directory " + pgdata + " is not on a volume or bind mount (a helper container could not swap it)";
}

ClusterHome FindClusterHome(const Postgres& pg, std::string& problem) {
  ClusterHome h;
  h.container = pg.target().container;
  ProcResult r = Docker(pg.host(), {"inspect", "--type", "container", h.container}, 60);
  if (!r.ok()) Fail("cannot inspect the " + pg.target().label + " postgres container " + h.container + ": " + r.last_error_line());
  std::vector<std::string> mounts;
  std::vector<std::pair<std::string, std::string>> sources;  // destination, source
  try {
    const nlohmann::json j = nlohmann::json::parse(r.out).at(0);
    h.image = j.at("Image").get<std::string>();
    for (const auto& m : j.at("Mounts")) {
      mounts.push_back(m.at("Destination").get<std::string>());
      sources.emplace_back(mounts.back(), m.value("Source", ""));
    }
  } catch (const std::exception& e) {
    Fail("docker inspect of the " + pg.target().label + " postgres container " + h.container +
         " gave an answer not understood: " + e.what());
  }
  h.pgdata = pg.QueryValue("SHOW data_directory", "postgres");  // compose may pass -D or -c data_directory
  problem = PgdataProblem(h.pgdata, mounts);
  if (!problem.empty()) {
    problem = "the " + pg.target().label + "'s postgres: " + problem;
    return h;
  }
  // The innermost mount holding pgdata; none when another mount lies inside it (a pg_wal volume:
  // the folder here is not what the server sees).
  for (const auto& [dest, source] : sources)
    if (dest.rfind(h.pgdata + "/", 0) == 0) return h;
  size_t best = 0;
  for (const auto& [dest, source] : sources) {
    const bool holds = dest == h.pgdata || (dest != "/" && h.pgdata.rfind(dest + "/", 0) == 0);
    if (holds && dest.size() >= best && !source.empty() && source.front() == '/') {
      best = dest.size();
      h.mount_folder = source + h.pgdata.substr(dest.size());
    }
  }
  return h;
}

std::string ClusterFolderHere(const ClusterHome& home) {
  const char* knob = std::getenv("MIGRATE_PHYSICAL_ON_HOST");
  if ((knob && std::string(knob) == "0") || ::geteuid() != 0 || home.mount_folder.empty()) return "";
  const std::string dir = home.mount_folder;
  struct stat st {};
  if (::lstat((dir + "/PG_VERSION").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  // The running server's own folder: its postmaster.pid names the data directory it serves.
  std::ifstream pid(dir + "/postmaster.pid");
  std::string line;
  if (!std::getline(pid, line) || !std::getline(pid, line) || line != home.pgdata) return "";
  return dir;
}

std::vector<std::string> BaseBackupArgv(const Postgres& pg, const std::string& compress) {
  return pg.Tool("pg_basebackup",
                 {"-D", "-", "-F", "tar", "-X", "fetch", "-c", "fast", "--compress=" + compress, "--label=migrate"});
}

uint64_t BaseBackupToFile(const Postgres& pg, const std::string& path) {
  WalHold hold(pg, "postgres", nullptr);
  return OutputToFile(pg.host(), BaseBackupArgv(pg), path, "the base backup of the " + pg.target().label + "'s cluster");
}

std::string RestoreClusterCommand(const ClusterHome& home, const std::string& file) {
  return CommandLine({"docker", "stop", home.container}) + " && " +
         CommandLine({"docker", "run", "--rm", "-i", "--network", "none", "-u", "0", "--volumes-from", home.container,
                      "--entrypoint", "sh", home.image, "-c",
                      "cd \"$1\" && rm -rf .migrate-back && mkdir -m 700 .migrate-back && tar -xzf - -C .migrate-back && "
                      "find . -mindepth 1 -maxdepth 1 ! -name .migrate-back -exec rm -rf {} + && "
                      "mv .migrate-back/* . && rmdir .migrate-back", "sh",
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
  Laps lap(r.timings, "physical copy");
  const Host& there = dst.host();
  std::unique_ptr<ClusterStage> stage = StageFor(dst, home, opts.source_home);
  r.on_host = !home.here.empty();

  // 1. The source's base backup, staged and verified. Staged on this host, the copy needs
  // nothing of the target's server: it stops meanwhile (its stop leaves the copy's critical
  // path; nothing uses the new release's postgres while a copy replaces it), and is started
  // again as it was when the copy fails before its swap. Staged in its container, it runs.
  std::future<SourceAfter> source_count;
  std::optional<SourceMark> before;  // the source as the backup began (unknown when it could not be read)
  std::future<ProcResult> stopping;
  std::optional<WalHold> hold;
  std::future<void> released;  // the hold's session closed on a thread (before `hold` goes)
  std::future<void> finished;  // stage->Finish() (before `stage` goes)
  const auto stop_target = [&there, &home] { return Docker(there, {"stop", "-t", "60", home.container}, 120); };
  try {
    if (r.on_host) stopping = std::async(std::launch::async, stop_target);
    if (opts.as_standby) Session(src, "postgres").Ask(MakeSlotSql(opts.slot));
    hold.emplace(src, src.target().db, opts.session_ahead);
    // A transaction or a nextval on the source from now until it is counted after the backup
    // changes this mark (the copy is then not expected to equal that count).
    if (!opts.as_standby) {
      try {
        if (hold->session()) {
          before = Mark(*hold->session());
        } else {
          Session marking(src, src.target().db);
          before = Mark(marking);
        }
      } catch (const Error& e) {  // unknown: a difference in the counts fails the copy unless a later count differs
        TheLog().warn(std::string("could not read whether the source is written during the copy (") + e.what() +
                      "); a difference in the counts then fails it" +
                      (hold->session() ? "; the source's WAL may no longer be held for it" : ""));
      }
    }
    r.bytes = stage->Fill(src, opts.progress);
    r.compression = stage->compression();
    // The source as the backup ended, counted while the copy is verified and swapped in.
    if (!opts.as_standby)
      source_count = std::async(std::launch::async, [&src] {
        Session counting(src, src.target().db);
        SourceAfter after;
        after.state = counting.State();
        after.mark.sequences = after.state.sequences;  // the ones the copy is compared with
        after.mark.snapshot = counting.AskValue(kSnapshotSql);
        return after;
      });
    released = std::async(std::launch::async, [&hold] { hold.reset(); });  // psql's end waited for aside
    lap("base_backup");
    stage->Verify();
    lap("verify_files");
    if (opts.before_swap) opts.before_swap();
    stage->Prepare(opts.as_standby);  // the helper of a swap in the container: its start alone is then downtime
  } catch (...) {
    stage->Drop();
    if (source_count.valid()) source_count.wait();
    if (stopping.valid()) {
      stopping.wait();
      if (ProcResult again = Docker(there, {"start", home.container}, 120); !again.ok())
        TheLog().warn("the target's postgres (" + home.container + "), stopped for the copy, did not start again: " +
                      again.last_error_line() + "; start it with: docker start " + home.container);
    }
    throw;
  }

  // 2. The swap, with the target stopped. A swap refused before it touched PGDATA starts the
  // target again as it was; one that failed later leaves it stopped for the roll back.
  ProcResult stop = stopping.valid() ? stopping.get() : stop_target();
  if (!stop.ok()) {
    Docker(there, {"start", home.container}, 120);  // in case it stopped after all
    stage->Drop();  // through the started container, on that path
    Fail("cannot stop the target's postgres (" + home.container + ") for the swap: " + stop.last_error_line());
  }
  lap("stop");
  std::string why;
  ClusterStage::Swapped swapped;
  try {
    swapped = stage->Swap(why);
  } catch (const Error& e) {
    Fail(std::string(e.what()) + ": " + home.container + "'s postgres is left stopped; put its cluster back with the "
         "roll back command");
  }
  if (swapped == ClusterStage::Swapped::kUnknown)  // never start postgres beside a swap that may run
    Fail("the swap of the copied cluster into " + home.container + " did not end (" + why +
         "); when it has ended, put the target's cluster back with the roll back command");
  if (swapped == ClusterStage::Swapped::kRefused) {
    Docker(there, {"start", home.container}, 120);
    stage->Drop();
    Fail("the swap was refused with the target untouched: " + why);
  }
  lap("swap");
  ProcResult start = Docker(there, {"start", home.container}, 120);
  if (!start.ok()) Fail("cannot start the target's postgres (" + home.container + ") on the copied cluster: " + start.last_error_line());

  const Postgres admin = CopyAdmin(src, dst);
  // Staged here, the server's postmaster.pid says when it takes connections (a standby's: once
  // consistent); the credentials' session then proves the copy's superuser logs in. Else (or
  // when it did not say so) probes through docker exec until it answers.
  if (!r.on_host || !PidFileSaysReady(home.here, opts.as_standby)) admin.WaitReady(120, "");
  // The target's cluster set aside goes once the copy answers, on a thread (best effort).
  finished = std::async(std::launch::async, [&stage] { stage->Finish(); });
  lap("start");
  if (opts.as_standby) return r;
  // 4. Rows and sequences: the copy against the source as the backup ended. Counted as the
  // copy's superuser beside the credentials' re-application where the database keeps its name
  // (a rename needs the database free of sessions) and that user's password stays (a pg_hba.conf
  // asking for passwords on the local socket would refuse the old one): else after it, as the
  // target's user.
  std::future<DbState> target_count;
  const bool same_login = src.target().user == dst.target().user && src.target().password != dst.target().password;
  if (src.target().db == dst.target().db && !same_login)  // else the new password may refuse its login
    target_count = std::async(std::launch::async, [&admin, &src] { return Session(admin, src.target().db).State(); });
  ReapplyCredentials(src, dst);
  lap("credentials");

  const SourceAfter after = source_count.get();
  r.source = after.state;
  r.target = target_count.valid() ? target_count.get() : Session(dst, dst.target().db).State();
  r.mismatches = CompareStates(r.source, r.target, true);
  if (!r.mismatches.empty()) {
    Session again(src, src.target().db);
    r.source_changed =
        WrittenMeanwhile(before, after.mark) || !CompareStates(r.source, again.State()).empty();
  }
  lap("verify_rows");
  return r;
}

struct WalShipper::Follower {
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
};

WalShipper::WalShipper(const Postgres& src, ClusterHome src_home, const Postgres& dst, ClusterHome dst_home,
                       std::string slot)
    : src_(src), src_home_(std::move(src_home)), dst_(dst), dst_home_(std::move(dst_home)), slot_(std::move(slot)) {}

WalShipper::~WalShipper() { StopFollowing(); }

size_t WalShipper::Round() { return RoundVia(src_.dump_host()); }

void WalShipper::Follow(std::chrono::milliseconds pause) {
  if (follower_) return;
  follower_ = std::make_unique<Follower>();
  Follower& f = *follower_;
  f.thread = std::thread([this, &f, pause] {
    std::string last_error;
    std::unique_lock<std::mutex> lock(f.mu);
    while (!f.stop) {
      lock.unlock();
      try {
        RoundVia(src_.host());
        last_error.clear();
      } catch (const std::exception& e) {
        // The next round, or the last one once the source stopped, ships what this one did not.
        if (last_error != e.what()) TheLog().warn(std::string("a round of WAL shipping failed (retried): ") + e.what());
        last_error = e.what();
      }
      lock.lock();
      f.cv.wait_for(lock, pause, [&f] { return f.stop; });
    }
  });
}

void WalShipper::StopFollowing() {
  if (!follower_) return;
  {
    std::lock_guard<std::mutex> lock(follower_->mu);
    follower_->stop = true;
  }
  follower_->cv.notify_all();
  follower_->thread.join();
  follower_.reset();
}

size_t WalShipper::RoundVia(const Host& reader) {
  ++rounds_;
  const auto f = Fields(src_.QueryValue(
      "SELECT pg_walfile_name(pg_current_wal_lsn()), (SELECT pg_walfile_name(restart_lsn) FROM pg_replication_slots "
      "WHERE slot_name = " + QuoteLiteral(slot_) + ")", "postgres"));
  if (f.size() != 2 || !IsWalName(f[0]) || !IsWalName(f[1]))
    Fail("the source no longer holds its WAL for the cutover (replication slot " + slot_ + " is gone)");
  ProcResult ls = Docker(src_.host(), {"exec", src_home_.container, "ls", src_home_.pgdata + "/pg_wal"}, 60);
  if (!ls.ok()) Fail("cannot list the source's WAL: " + ls.last_error_line());
  std::vector<std::string> names;
  std::string name;
  for (char c : ls.out + "\n") {
    if (c != '\n') {
      name += c;
      continue;
    }
    // completed segments from the slot's on (the one being written is not), and timeline histories
    const bool segment = name.size() == 24 && name >= f[1] && name < f[0];
    if (IsWalName(name) && (segment || name.size() == 16) &&
        std::find(shipped_.begin(), shipped_.end(), name) == shipped_.end())
      names.push_back(name);
    name.clear();
  }
  return Ship(reader, names);
}

std::string WalShipper::Final() {
  StopFollowing();
  // From the stopped source's cluster, through a helper container with its volumes: every segment
  // from the last round's on (the one then being written included), its control data on stderr.
  std::string from = "0";
  for (const auto& n : shipped_)
    if (n.size() == 24 && n > from) from = n;
  const char* script =
      "set -e; pg_controldata \"$1\" >&2; cd \"$1/pg_wal\"; "
      "set -- $(ls | awk -v c=\"$2\" '(length($0) == 24 && (\"\" $0) > (\"\" c)) || /^[0-9A-F]+[.]history$/'); "
      "tar -cf - \"$@\" | gzip -1";
  auto out = src_.host().Start({"docker", "run", "--rm", "--network", "none", "-u", "0", "--volumes-from",
                                src_home_.container, "--entrypoint", "sh", src_home_.image, "-c", script, "sh",
                                src_home_.pgdata, from},
                               Proc::kStdout);
  bytes_ += RelayOrFail(*out, dst_.host(), UnpackArgv(), "reading the stopped source's last WAL",
                        "unpacking the source's last WAL in the standby");
  const std::string control = out->err_text();
  const std::string key = "Latest checkpoint location:";
  const size_t at = control.find(key);
  if (at == std::string::npos) Fail("pg_controldata of the stopped source printed no checkpoint location");
  std::string lsn = Trim(control.substr(at + key.size(), control.find('\n', at) - at - key.size()));
  if (lsn.empty() || lsn.find_first_not_of("0123456789ABCDEF/") != std::string::npos)
    Fail("pg_controldata of the stopped source printed a checkpoint location not understood: " + lsn);
  next_xid_ = NextXidFromControlData(control);
  return lsn;
}

std::vector<std::string> WalShipper::UnpackArgv() const {
  return {"docker", "exec", "-i", "-u", "0", dst_home_.container, "sh", "-c",
          "tar -xzf - -C \"$1/migrate-wal\" && chown -R \"$(stat -c %u:%g \"$1\")\" \"$1/migrate-wal\"", "sh",
          dst_home_.pgdata};
}

size_t WalShipper::Ship(const Host& reader, const std::vector<std::string>& names) {
  if (names.empty()) return 0;
  std::vector<std::string> argv = {"docker", "exec", src_home_.container, "sh", "-c", "cd \"$1/pg_wal\" && shift && tar -cf - \"$@\" | gzip -1",
          "sh", src_home_.pgdata};
  argv.insert(argv.end(), names.begin(), names.end());
  auto out = reader.Start(argv, Proc::kStdout);
  bytes_ += RelayOrFail(*out, dst_.host(), UnpackArgv(), "reading the source's WAL",
                        "unpacking the source's WAL in the standby");
  shipped_.insert(shipped_.end(), names.begin(), names.end());
  return names.size();
}

std::string NextXidFromControlData(const std::string& control) {
  const std::string key = "Latest checkpoint's NextXID:";
  const size_t at = control.find(key);
  if (at == std::string::npos) return "";
  const std::string v = Trim(control.substr(at + key.size(), control.find('\n', at) - at - key.size()));
  const size_t colon = v.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size() ||
      v.find_first_not_of("0123456789:") != std::string::npos || v.find(':', colon + 1) != std::string::npos)
    return "";
  try {
    const uint64_t epoch = std::stoull(v.substr(0, colon)), xid = std::stoull(v.substr(colon + 1));
    if (epoch > 0xFFFFFFFFull || xid > 0xFFFFFFFFull) return "";
    return std::to_string((epoch << 32) | xid);
  } catch (const std::exception&) {
    return "";
  }
}

void PromoteStandby(const Postgres& admin, const ClusterHome& home, const std::string& lsn, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  Session s(admin, "postgres");
  for (;;) {
    if (s.AskValue("SELECT pg_last_wal_replay_lsn() >= " + QuoteLiteral(lsn) + "::pg_lsn;") == "t") break;
    if (std::chrono::steady_clock::now() > deadline)
      Fail("the standby did not replay the source's WAL up to " + lsn + " within " + std::to_string(seconds) +
           " s (it is at " + s.AskValue("SELECT pg_last_wal_replay_lsn();") + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (s.AskValue("SELECT pg_promote(true, 60);") != "t") Fail("the standby was not promoted within 60 s");
  s.Ask("ALTER SYSTEM RESET restore_command;\nALTER SYSTEM RESET wal_retrieve_retry_interval;\nSELECT pg_reload_conf();");
  ProcResult rm = Docker(admin.host(), {"exec", "-u", "0", home.container, "rm", "-rf", home.pgdata + "/migrate-wal"}, 300);
  if (!rm.ok()) TheLog().warn("could not remove the shipped WAL in " + home.container + ": " + rm.last_error_line());
}

void ReapplyCredentials(const Postgres& src, const Postgres& dst) {
  const Postgres admin = CopyAdmin(src, dst);
  Session s(admin, "template1");
  s.Ask(ReapplyCredentialsSql(dst.target().user, dst.target().password, src.target().db, dst.target().db));
}

std::string CopyMarkerJson(const CopyMarker& m) {
  return nlohmann::json{{"admin_user", m.admin_user}, {"source_db", m.source_db}}.dump() + "\n";
}

std::optional<CopyMarker> LoadCopyMarker(const std::string& path) {
  std::optional<std::string> text = ReadSmallFile(path, 64 << 10);
  if (!text) return std::nullopt;
  try {
    const nlohmann::json j = nlohmann::json::parse(*text);
    return CopyMarker{j.at("admin_user").get<std::string>(), j.at("source_db").get<std::string>()};
  } catch (const std::exception& e) {
    Fail(path + " is damaged (" + e.what() + "): it records an interrupted physical copy of the database; "
         "look at the target's postgres, then remove the file and run again");
  }
}

bool ResumeCredentials(const Postgres& dst, const CopyMarker& m) {
  try {
    dst.Probe("");
    return false;  // the target's own user answers
  } catch (const Error&) {
  }
  PgTarget t = dst.target();
  t.user = m.admin_user;
  t.password.clear();
  t.db = "postgres";
  t.dump_host = nullptr;
  const Postgres admin(t);
  try {
    admin.WaitReady(30, "");
  } catch (const Error&) {
    return false;
  }
  Session s(admin, "template1");
  s.Ask(ReapplyCredentialsSql(dst.target().user, dst.target().password, m.source_db, dst.target().db));
  return true;
}

void DropSlot(const Postgres& src, const std::string& slot) {
  src.Query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = " +
                QuoteLiteral(slot),
            "postgres");
}

}  // namespace mig::db
