#include "ssh/remote_agent.h"

#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent/serve.h"
#include "core/error.h"
#include "core/log.h"

namespace mig::ssh {

namespace {

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail("cannot read the agent to upload, " + path + ": build migrate-agent beside migrate (or set MIGRATE_AGENT)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Line(const std::string& text, int n) {
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i <= n; ++i)
    if (!std::getline(in, line)) return "";
  return line;
}

}  // namespace

std::unique_ptr<agent::AgentSession> StartRemoteAgent(Session& s, const std::string& local_agent, bool sudo) {
  std::string bytes = ReadWhole(local_agent);
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(XXH3_64bits(bytes.data(), bytes.size())));
  const std::string name = std::string("migrate-agent-") + MIGRATE_VERSION + "-" + std::string(id, 12);
  const std::string path = "\"$HOME/.cache/migrate/" + name + "\"";  // expanded by the remote user's shell
  const std::string expect = std::string(MIGRATE_VERSION) + " " + agent::MachineName();
  const std::string serve = std::string(sudo ? "exec sudo -n " : "exec ") + path + " serve";
  // One channel in the usual case (the agent is there): each exec costs a remote login.
  auto session = std::make_unique<agent::AgentSession>(
      s.Exec("if [ -x " + path + " ] && [ \"$(" + path + " --version 2>/dev/null)\" = '" + expect + "' ]; then " +
             serve + "; fi; echo \"migrate-agent-missing $(uname -m)\""));
  try {
    session->Handshake(MIGRATE_VERSION);
    return session;
  } catch (const Error&) {
    const std::string said = session->not_agent_text();
    if (said.rfind("migrate-agent-missing ", 0) != 0) throw;
    session.reset();  // its channel (and the thread reading it) goes before the upload's
    std::string machine = said.substr(std::string("migrate-agent-missing ").size());
    while (!machine.empty() && machine.back() == ' ') machine.pop_back();
    if (machine != agent::MachineName())
      Fail("the old server " + s.target().Show() + " is " + machine.substr(0, 40) + " and this migrate carries an " +
           agent::MachineName() + " agent: run migrate from a machine of the same architecture, or build " +
           "migrate-agent for " + machine.substr(0, 40));
  }
  TheLog().info("uploading migrate-agent (" + std::to_string(bytes.size() >> 10) + " KiB) to " + s.target().Show() +
                ":~/.cache/migrate/" + name);
  ProcResult up = s.Run("umask 077 && mkdir -p \"$HOME/.cache/migrate\" && t=\"$HOME/.cache/migrate/.upload.$$\" && "
                        "cat > \"$t\" && chmod 700 \"$t\" && mv -f \"$t\" " + path + " && " + path + " --version",
                        bytes);
  if (!up.ok() || Line(up.out, 0) != expect)
    Fail("cannot install migrate-agent on " + s.target().Show() + " in ~/.cache/migrate (" + up.last_error_line() +
         "): is the home folder writable and not mounted noexec?");
  session = std::make_unique<agent::AgentSession>(s.Exec(serve));
  session->Handshake(MIGRATE_VERSION);
  return session;
}

}  // namespace mig::ssh
