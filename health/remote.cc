// The remote source's rows (--from user@old-host): SSH access and host key, the old server's
// docker and compose, its install and postgres, room on this server for what it holds, the
// clock skew between the two, and whether the agent is already there.
#include <sys/time.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

#include "agent/serve.h"
#include "core/error.h"
#include "db/postgres.h"
#include "db/replay.h"
#include "docker/docker.h"
#include "health/checks.h"
#include "install/install.h"
#include "core/progress.h"
#include "install/room.h"
#include "origin/origin.h"

namespace mig::health {

namespace {

double Now() {
  struct timeval tv {};
  ::gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6;
}

// The remote clock minus ours, taken at the middle of a round trip through an already
// running remote shell (a new channel costs a remote login, which would skew the estimate).
std::optional<double> ClockSkew(const Host& host) {
  try {
    auto p = host.Start({"sh", "-c", "echo ready; read x; date +%s.%N"}, Proc::kStdin | Proc::kStdout);
    std::string line;
    if (!p->read_line(line) || line != "ready") return std::nullopt;
    double before = Now();
    p->write("\n");
    if (!p->read_line(line)) return std::nullopt;
    double after = Now();
    p->wait();
    // GNU date prints nanoseconds; another date prints "%N" as is: whole seconds, +0.5 on average.
    bool whole = line.find('N') != std::string::npos;
    return std::stod(line) + (whole ? 0.5 : 0.0) - (before + after) / 2;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<Check> RemoteChecks(const CheckOptions& o) {
  if (o.from_remote.empty()) return {};
  std::vector<Check> rows;
  std::unique_ptr<Origin> origin;
  try {
    OriginSpec spec;
    spec.from = o.from_remote;
    spec.ssh = o.ssh;
    spec.programs_through_agent = false;  // a check changes nothing: no agent upload
    origin = OpenOrigin(spec);
    for (const auto& [name, detail] : origin->Checks()) rows.push_back(Ok(name, detail));
  } catch (const Error& e) {
    rows.push_back(Failed("ssh", e.what(), "fix the SSH access as the detail says (--key, --known-hosts, "
                                           "--accept-new-host-key), then check again"));
    return rows;
  }
  const Host& host = origin->host();
  const std::string where = " on " + host.Describe();
  if (auto skew = ClockSkew(host)) {
    std::ostringstream d;
    d.precision(1);
    d << std::fixed << "the old server's clock is " << (*skew >= 0 ? "ahead by " : "behind by ")
      << (*skew >= 0 ? *skew : -*skew) << " s";
    const char* fix = "turn on time synchronisation on both servers (timedatectl set-ntp true)";
    double a = *skew >= 0 ? *skew : -*skew;
    rows.push_back(a > 300 ? Failed("clock skew", d.str(), fix) : a > 5 ? Warn("clock skew", d.str(), fix) : Ok("clock skew", d.str()));
  } else {
    rows.push_back(Warn("clock skew", "`date` did not answer" + where, "check the old server's shell"));
  }
  ProcResult arch = host.Run({"uname", "-m"});
  std::string machine = arch.ok() ? arch.out.substr(0, arch.out.find('\n')) : "?";
  if (machine == agent::MachineName())
    rows.push_back(Ok("agent", machine + where + ": migrate uploads its " + machine + " agent to ~/.cache/migrate when absent"));
  else
    rows.push_back(Failed("agent", "the old server is " + machine + ", this migrate carries an " + agent::MachineName() + " agent",
                          "run migrate from a machine of the old server's architecture"));
  std::optional<docker::ComposeTool> tool;
  try {
    rows.push_back(Ok("old docker engine", "server " + docker::EngineVersion(host) + where));
    tool = docker::DetectCompose(host);
    rows.push_back(Ok("old compose", CommandLine(tool->argv) + " " + tool->version + where));
  } catch (const Error& e) {
    rows.push_back(Failed("old docker", e.what(), "docker and compose must answer on the old server for its user"));
  }
  if (o.from_path.empty()) {
    rows.push_back(Skip("old install", "give --from-path /path/of/the/old/install to check it too"));
    return rows;
  }
  Install in;
  try {
    in = origin->LoadInstall(o.from_path, o.db_service, "", ProcessEnv());
    rows.push_back(Ok("old install", in.dir + where + ", project " + in.project_name +
                                         (in.version.empty() ? "" : ", version " + in.version)));
  } catch (const Error& e) {
    rows.push_back(Failed("old install", e.what(), "give --from-path the old release folder (it holds docker-compose.yml)"));
    return rows;
  }
  uint64_t db_bytes = 0;
  if (tool) {
    docker::Stack stack(*tool, in.dir, in.project.file, in.project_name, host);
    try {
      std::string c = stack.RunningContainer(in.db_service);
      if (c.empty()) {
        rows.push_back(Failed("old postgres", "service " + in.db_service + " of project " + in.project_name + " is not running" + where,
                              "start it there: " + CommandLine(stack.Command({"up", "-d", in.db_service}))));
      } else {
        in.pg.container = c;
        db::ServerInfo si = db::Postgres(in.pg).Probe(db::RetiredName(in.pg.db));
        db_bytes = static_cast<uint64_t>(si.db_size);
        if (si.db_exists)
          rows.push_back(Ok("old postgres", in.pg.db + " in " + in.project_name + ", postgres " + std::to_string(si.major) +
                                                ", " + HumanBytes(db_bytes)));
        else
          rows.push_back(Failed("old postgres", "the database " + in.pg.db + " does not exist" + where,
                                "check POSTGRES_DB in the old install's .env"));
      }
    } catch (const Error& e) {
      rows.push_back(Failed("old postgres", e.what(), "the old postgres must answer before a migration"));
    }
  }
  ProcResult du = host.Run({"du", "-sk", in.dir + "/data"});
  uint64_t data_bytes = 0;
  if (du.ok()) {
    try {
      data_bytes = std::stoull(du.out) * 1024;
    } catch (const std::exception&) {
    }
  }
  const std::string to = o.to_path.empty() ? std::filesystem::current_path().string() : o.to_path;
  RoomVerdict here = TargetRoom(to, data_bytes, 0);
  if (here.ok) rows.push_back(Ok("room for the old data/", here.detail + " (old data/ " + HumanBytes(data_bytes) + ")"));
  else rows.push_back(Failed("room for the old data/", here.detail, here.error));
  RoomVerdict dbr = DatabaseRoom(DockerRootDir(), db_bytes);
  if (!dbr.where.empty()) {
    if (dbr.ok) rows.push_back(Ok("room for the old database", dbr.detail));
    else rows.push_back(Failed("room for the old database", dbr.detail, dbr.error));
  }
  ProcResult df = host.Run({"df", "-Pk", in.dir});
  std::istringstream dl(df.out);
  std::string line, dev;
  std::getline(dl, line);
  uint64_t blocks = 0, used = 0, avail = 0;
  if (df.ok() && std::getline(dl, line) && (std::istringstream(line) >> dev >> blocks >> used >> avail) && blocks) {
    double pct = 100.0 * static_cast<double>(avail) / static_cast<double>(blocks);
    std::string d = HumanBytes(avail * 1024) + " free where the old install lives" + where;
    if (pct < 5) rows.push_back(Warn("old server's disk", d, "the old postgres may stop on a full disk: free some space there"));
    else rows.push_back(Ok("old server's disk", d));
  }
  return rows;
}

}  // namespace mig::health
