// This server's rows: docker, compose, the install(s), their postgres, free disk.
#include <filesystem>
#include <optional>

#include "compose/compose.h"
#include "core/error.h"
#include "db/replay.h"
#include "docker/docker.h"
#include "health/checks.h"
#include "install/install.h"
#include "core/progress.h"
#include "install/room.h"
#include "health/swarm_checks.h"

namespace fs = std::filesystem;

namespace mig::health {

namespace {

const char* const kToPathFix = "give --to-path the release folder that holds docker-compose.yml";
const char* const kFromPathFix = "give --from-path the old release's folder, the one that holds docker-compose.yml";
// How long a running postgres container may take to answer (one just started initialises).
constexpr int kPostgresWaitSeconds = 15;

// An install this check looked at, and what its database said.
struct Looked {
  std::optional<Install> install;
  bool db_answered = false;
  uint64_t db_bytes = 0;
};

std::string CurrentDir() {
  std::error_code ec;
  auto p = fs::current_path(ec);
  return ec ? "." : p.string();
}

// `path` made absolute for the table (not resolved: it may not exist).
std::string Absolute(const std::string& path) {
  std::error_code ec;
  auto p = fs::absolute(path, ec).lexically_normal().string();
  if (ec) return path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

// The install row; `rows` gets it, the install is returned when it could be read.
std::optional<Install> InstallRow(const std::string& row, const std::string& path, bool given, const std::string& role,
                                  std::vector<Check>& rows) {
  const std::string fix = role == "source" ? kFromPathFix : kToPathFix;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    rows.push_back(Failed(row, "the folder " + path + " does not exist", fix));
    return std::nullopt;
  }
  if (!fs::is_directory(path, ec)) {
    rows.push_back(Failed(row, path + " is not a folder", fix));
    return std::nullopt;
  }
  if (compose::FindComposeFile(path).empty()) {
    std::string what = path + " is not an install: it has no docker-compose.yml";
    if (given) rows.push_back(Failed(row, what, fix));
    else rows.push_back(Skip(row, "the current folder " + what + "; give --to-path DIR to check one"));
    return std::nullopt;
  }
  try {
    Install in = LoadInstall(path, role, "", "", ProcessEnv());
    std::string detail = in.dir + ": " + (in.version.empty() ? "no VERSION" : "release " + in.version) +
                         ", compose project " + in.project_name + ", " +
                         std::to_string(in.project.services.size()) +
                         (in.project.services.size() == 1 ? " service" : " services");
    std::error_code dec;
    if (role == "source" && !fs::is_directory(in.data_dir(), dec))
      rows.push_back(Warn(row, detail + "; no data/ folder", "migrate-local needs --skip-data for a source without data/"));
    else
      rows.push_back(Ok(row, detail));
    return in;
  } catch (const Error& e) {
    rows.push_back(Failed(row, e.what(), "correct the compose file or the .env it reads, then check again"));
    return std::nullopt;
  }
}

// The postgres row of an install whose compose file was read.
void PostgresRow(const std::string& row, Install& in, const std::string& db_service,
                 const docker::ComposeTool& tool, Looked& looked, std::vector<Check>& rows) {
  if (!in.project.service(db_service)) {
    rows.push_back(Failed(row, in.project.file + " has no service '" + db_service + "'",
                          "name the database service with --db-service"));
    return;
  }
  UseDbService(in, db_service);
  docker::Stack stack(tool, in.dir, in.project.file, in.project_name);
  try {
    in.pg.container = stack.RunningContainer(db_service);
    if (in.pg.container.empty()) {
      rows.push_back(Failed(row, "service " + db_service + " of project " + in.project_name + " is not running",
                            "start it: " + CommandLine(stack.Command({"up", "-d", db_service}))));
      return;
    }
    db::ServerInfo si = db::Postgres(in.pg).WaitReady(kPostgresWaitSeconds, db::RetiredName(in.pg.db));
    const std::string where = in.pg.db + " in project " + in.project_name;
    if (!si.db_exists) {
      rows.push_back(Failed(row, "the database " + where + " does not exist",
                            "start the release once so that it initialises its database"));
      return;
    }
    looked.db_answered = true;
    looked.db_bytes = static_cast<uint64_t>(si.db_size);
    std::string detail = where + ", postgres " + std::to_string(si.major) + ", " + HumanBytes(looked.db_bytes);
    if (in.role == "target" && !si.superuser)
      rows.push_back(Failed(row, detail + "; its user " + in.pg.user + " is not a superuser",
                            "the replay creates and renames databases and roles; use the postgres service's "
                            "POSTGRES_USER"));
    else
      rows.push_back(Ok(row, detail));
  } catch (const Error& e) {
    rows.push_back(Failed(row, e.what(), "see its log: " + CommandLine(stack.Command({"logs", "--tail", "50", db_service}))));
  }
}

void DiskRows(const CheckOptions& o, const std::string& dir, const Looked& target, const Looked& source,
              std::vector<Check>& rows) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    rows.push_back(Skip("free disk", "no folder to measure"));
    return;
  }
  if (o.from_path.empty() || !o.from_remote.empty()) {
    rows.push_back(Ok("free disk", HumanBytes(FreeBytes(dir)) + " free in " + dir +
                                       (o.from_remote.empty() ? "; give --from-path OLD to compare with what a migration needs"
                                                              : "; the remote rows below compare it with the old install")));
    return;
  }
  if (!source.install) {
    rows.push_back(Skip("free disk", HumanBytes(FreeBytes(dir)) + " free in " + dir +
                                         "; the source could not be read, so the need is unknown"));
    return;
  }
  uint64_t data = 0;
  try {
    data = TreeBytes(source.install->data_dir());
  } catch (const Error& e) {  // a folder of data/ this user may not read
    rows.push_back(Failed("free disk", e.what(), "run the check as the user that will run the migration (root)"));
    return;
  }
  RoomVerdict here = TargetRoom(dir, data, target.db_bytes);
  std::string parts = " (data/ " + HumanBytes(data) + ", target database " +
                      (target.db_answered ? HumanBytes(target.db_bytes) : std::string("unknown")) + ")";
  if (here.ok) rows.push_back(Ok("free disk", dir + ": " + here.detail + parts));
  else
    rows.push_back(Failed("free disk", dir + ": " + here.detail + parts,
                          "free some space in " + dir + " first: data/ and the target's database dump go there"));
  if (!source.db_answered) return;
  RoomVerdict db = DatabaseRoom(DockerRootDir(), source.db_bytes);
  if (db.where.empty()) rows.push_back(Skip("free disk for the database", "docker does not say where it keeps volumes"));
  else if (db.ok) rows.push_back(Ok("free disk for the database", db.detail + " (twice the source database)"));
  else
    rows.push_back(Failed("free disk for the database", db.detail,
                          "free some space in " + db.where + ": the replay builds a copy of the source database there"));
}

}  // namespace

std::vector<Check> LocalChecks(const CheckOptions& o) {
  std::vector<Check> rows;
  bool engine_ok = false;
  try {
    docker::EngineAnswer a = docker::ProbeEngine();
    if (a.error.empty()) {
      engine_ok = true;
      rows.push_back(Ok("docker engine", "server " + a.version));
    } else {
      rows.push_back(Failed("docker engine", "does not answer: " + a.error, docker::kEngineFix));
    }
  } catch (const Error& e) {
    rows.push_back(Failed("docker engine", e.what(), "install the docker engine (apt-get install docker.io)"));
  }
  std::optional<docker::ComposeTool> tool;
  try {
    tool = docker::DetectCompose();
    rows.push_back(Ok("compose", CommandLine(tool->argv) + " " + tool->version + (tool->argv.size() == 2 ? " (v2)" : " (v1)")));
  } catch (const Error& e) {
    rows.push_back(Failed("compose", e.what(), "install docker-compose (v1) or Docker's compose plugin (v2)"));
  }

  const std::string to = o.to_path.empty() ? CurrentDir() : Absolute(o.to_path);
  Looked target, source;
  target.install = InstallRow("install", to, o.to_path_given, "target", rows);
  if (!o.from_path.empty() && o.from_remote.empty()) source.install = InstallRow("source install", Absolute(o.from_path), true, "source", rows);
  if (target.install && source.install) {
    try {
      CheckDistinct(*source.install, *target.install);
    } catch (const Error& e) {
      rows.back() = Failed("source install", e.what(), "give two different release folders");
      source.install.reset();
    }
  }
  auto pg_rows = [&](const char* row, Looked& l) {
    if (!l.install) return;
    if (!engine_ok || !tool) rows.push_back(Skip(row, "docker or compose does not answer"));
    else PostgresRow(row, *l.install, o.db_service, *tool, l, rows);
  };
  // A stack on a Swarm: its nodes and services; its database runs as a Swarm task (a node's),
  // not as one of compose's containers here.
  std::optional<docker::Swarm> swarm;
  if (engine_ok && target.install) swarm = SwarmOfInstall(target.install->project_name, rows);
  if (swarm) {
    for (auto& r : SwarmRows(*swarm, o.db_service)) rows.push_back(std::move(r));
    NodeDefaults nodes;
    nodes.user = o.node_user;
    nodes.ssh = o.ssh;
    try {
      if (!o.nodes_file.empty()) nodes.nodes = ReadNodesFile(o.nodes_file);
      for (auto& r : SwarmNodeAccessRows(*swarm, nodes)) rows.push_back(std::move(r));
    } catch (const Error& e) {
      rows.push_back(Failed("nodes file", e.what(), "correct the nodes file (docs/swarm.md)"));
    }
  } else {
    pg_rows("postgres", target);
  }
  pg_rows("source postgres", source);
  DiskRows(o, target.install ? target.install->dir : to, target, source, rows);
  return rows;
}

}  // namespace mig::health
