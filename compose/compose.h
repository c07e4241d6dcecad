// Reading a release's docker-compose file the way compose interprets it (the subset the
// migration needs: services, environment, published ports, volumes, project name).
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace mig::compose {

using Env = std::map<std::string, std::string>;

// A published port ("127.0.0.1:18080:8080/tcp").
struct Port {
  std::string host_ip;   // empty: all addresses
  int host_port = 0;     // 0: not published on a fixed host port
  int container_port = 0;
  std::string protocol = "tcp";
};

// A service's mount: a named volume, a bind mount (source is a host path) or a tmpfs.
struct Mount {
  std::string type = "volume";  // volume, bind, tmpfs
  std::string source;           // volume key or host path (relative paths made absolute)
  std::string target;
  bool read_only = false;
};

// One service of the compose file, after interpolation.
struct Service {
  std::string name;
  std::string image;
  std::string container_name;
  Env environment;           // env_file entries, then `environment:`
  std::vector<Port> ports;
  std::vector<Mount> mounts;
  std::vector<std::string> constraints;  // deploy.placement.constraints (a Swarm stack's)
  // What stopping it takes, by compose stop's rules: its stop_grace_period in whole seconds (-1:
  // not given, docker's 10), and the services it needs (depends_on, links, network_mode:
  // service:X, volumes_from), which stop after it.
  int stop_grace_seconds = -1;
  std::vector<std::string> needs;
  // `scale:` or `deploy.replicas:` given: compose may keep more than one container of it.
  bool scaled = false;
};

// A release's compose project as read from its folder.
struct Project {
  std::string dir;            // the folder holding the compose file
  std::string file;           // path of the compose file
  Env dotenv;                 // the folder's .env
  std::string name;           // the compose project name (COMPOSE_PROJECT_NAME or folder name)
  std::vector<Service> services;
  std::vector<std::string> volumes;  // top-level volume keys
  // What docker will call them: `name:` (interpolated), else "<project>_<key>"; an external
  // volume's own name. The project is `name` above unless -p overrides it (see EffectiveNames).
  std::map<std::string, std::string> volume_names;
  std::map<std::string, std::string> network_names;  // the same for networks ("default" included)
  // Volumes whose `name:` is computed from COMPOSE_PROJECT_NAME (`-p` does not change it).
  std::vector<std::string> names_from_project_var;

  const Service* service(const std::string& name) const;

  // The parsed top-level sections, kept for EffectiveNames().
  YAML::Node raw_volumes_, raw_networks_;
  Env raw_env_;
};

// The whole content of a file; throws mig::Error (input) naming it when it cannot be read.
std::string ReadFile(const std::string& path);

// Parses a .env file: KEY=VALUE lines, comments, optional quotes, `export ` prefix.
Env ParseDotEnv(const std::string& text);

// Replaces ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$ as compose does; `env` is
// looked up first, then `fallback`. ${VAR:?msg} with VAR unset throws mig::Error (input).
std::string Interpolate(const std::string& s, const Env& env, const Env& fallback,
                        const std::string& where);

// Compose v1's project-name rule: lower case, keep [a-z0-9_-].
std::string NormalizeProjectName(const std::string& name);

// The compose file of a release folder (docker-compose.yml, .yaml, compose.yml, .yaml);
// empty when there is none.
std::string FindComposeFile(const std::string& dir);

// Loads `file` (in folder `dir`). `process_env` stands for the shell's environment, which
// compose lets win over .env. Throws mig::Error (input) with file:line:column on bad YAML or
// an unknown shape.
Project LoadProject(const std::string& dir, const std::string& file, const Env& process_env);

// The volume and network names of `p` when it runs under the project name `project`.
void EffectiveNames(Project& p, const std::string& project);

}  // namespace mig::compose
