#include "daemon/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "core/error.h"

namespace mig::daemon {

namespace {

const char* kKeys = "install, repo, password_file, repo_options, listen, token_file, tls_cert, tls_key, "
                    "allow_plain_http, state_dir, backupConfig, standby, swarm_nodes";
const char* kBackupKeys = "enableRegularBackups, backupFrequency, backupRetentionCount, suspend, timezone";

std::string Where(const std::string& path, const YAML::Mark& m) {
  return path + ":" + std::to_string(m.line + 1);
}

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}
  std::string Str(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar() || n.Scalar().empty()) Bad(n, key + " must be a text value");
    return n.Scalar();
  }
  bool Bool(const YAML::Node& n, const std::string& key) const {
    const std::string v = n.IsScalar() ? n.Scalar() : "";
    if (v == "true") return true;
    if (v == "false") return false;
    Bad(n, key + " must be true or false (not \"" + v + "\")");
  }
  int Int(const YAML::Node& n, const std::string& key, int min, int max) const {
    const std::string v = n.IsScalar() ? n.Scalar() : "";
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
      Bad(n, key + " must be a whole number (not \"" + v + "\")");
    const int i = std::stoi(v);
    if (i < min || i > max) Bad(n, key + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return i;
  }
  [[noreturn]] void Bad(const YAML::Node& n, const std::string& why) const { BadInput(Where(path_, n.Mark()) + ": " + why); }

 private:
  std::string path_;
};

Listen ParseListen(const std::string& v, const Reader& r, const YAML::Node& n) {
  Listen l;
  if (!v.empty() && v[0] == '/') {
    l.socket = v;
    return l;
  }
  static const std::regex re(R"(^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$)");
  std::smatch m;
  if (!std::regex_match(v, m, re))
    r.Bad(n, "listen must be HOST:PORT (127.0.0.1:8420, [::1]:8420) or a unix socket's absolute path, not \"" + v + "\"");
  l.host = m[1].str();
  if (l.host.front() == '[') l.host = l.host.substr(1, l.host.size() - 2);
  l.port = std::stoi(m[2].str());
  if (l.port < 1 || l.port > 65535) r.Bad(n, "listen's port must be 1-65535");
  return l;
}

void ReadBackup(const YAML::Node& node, BackupConfig& b, const Reader& r, const std::string& path) {
  if (!node.IsMap()) r.Bad(node, "backupConfig must be a mapping (" + std::string(kBackupKeys) + ")");
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "enableRegularBackups") {
      b.enableRegularBackups = r.Bool(v, key);
    } else if (key == "backupFrequency") {
      b.backupFrequency = r.Str(v, key);
      try {
        ParseCron(b.backupFrequency);
      } catch (const Error& e) {
        r.Bad(v, std::string("backupFrequency: ") + e.what());
      }
    } else if (key == "backupRetentionCount") {
      b.backupRetentionCount = r.Int(v, key, 1, 100000);
    } else if (key == "suspend") {
      b.suspend = r.Bool(v, key);
    } else if (key == "timezone") {
      b.timezone = r.Str(v, key);
      try {
        Zone::Load(b.timezone);
      } catch (const Error& e) {
        r.Bad(v, std::string("timezone: ") + e.what());
      }
    } else {
      BadInput(Where(path, kv.first.Mark()) + ": unknown key \"" + key + "\" in backupConfig (its keys: " +
               kBackupKeys + ")");
    }
  }
}

}  // namespace

bool Listen::loopback() const {
  if (!socket.empty()) return true;
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string Listen::text() const {
  if (!socket.empty()) return socket;
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

DaemonConfig ParseDaemonConfig(const std::string& text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    BadInput(Where(path, e.mark) + ": not YAML: " + e.msg);
  }
  if (!root.IsMap()) BadInput(path + ": the configuration must be a mapping of keys (" + std::string(kKeys) + ")");
  const Reader r(path);
  DaemonConfig c;
  c.path = path;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (key == "install") {
      c.install = r.Str(v, key);
    } else if (key == "repo") {
      c.repo = r.Str(v, key);
    } else if (key == "password_file") {
      c.password_file = r.Str(v, key);
    } else if (key == "repo_options") {
      if (!v.IsSequence()) r.Bad(v, "repo_options must be a list of KEY=VALUE");
      for (const auto& o : v) c.repo_options.push_back(r.Str(o, "each of repo_options"));
    } else if (key == "listen") {
      c.listen = ParseListen(r.Str(v, key), r, v);
    } else if (key == "token_file") {
      c.token_file = r.Str(v, key);
    } else if (key == "tls_cert") {
      c.tls_cert = r.Str(v, key);
    } else if (key == "tls_key") {
      c.tls_key = r.Str(v, key);
    } else if (key == "allow_plain_http") {
      c.allow_plain_http = r.Bool(v, key);
    } else if (key == "state_dir") {
      c.state_dir = r.Str(v, key);
    } else if (key == "backupConfig") {
      ReadBackup(v, c.backup, r, path);
    } else if (key == "swarm_nodes") {
      if (!v.IsMap()) r.Bad(v, "swarm_nodes must be a mapping (user, key, known_hosts, nodes_file)");
      for (const auto& nkv : v) {
        const std::string k = nkv.first.Scalar();
        if (k == "user") c.swarm_nodes.user = r.Str(nkv.second, k);
        else if (k == "key") c.swarm_nodes.key = r.Str(nkv.second, k);
        else if (k == "known_hosts") c.swarm_nodes.known_hosts = r.Str(nkv.second, k);
        else if (k == "nodes_file") c.swarm_nodes.nodes_file = r.Str(nkv.second, k);
        else
          BadInput(Where(path, nkv.first.Mark()) + ": unknown key \"" + k +
                   "\" in swarm_nodes (its keys: user, key, known_hosts, nodes_file)");
      }
    } else if (key == "standby") {
      if (!v.IsMap()) r.Bad(v, "standby must be a mapping (install, repo, password_file, frequency)");
      StandbyConfig s;
      for (const auto& skv : v) {
        const std::string k = skv.first.Scalar();
        if (k == "install") {
          s.install = r.Str(skv.second, k);
        } else if (k == "repo") {
          s.repo = r.Str(skv.second, k);
        } else if (k == "password_file") {
          s.password_file = r.Str(skv.second, k);
        } else if (k == "project") {
          s.project = r.Str(skv.second, k);
        } else if (k == "frequency") {
          s.frequency = r.Str(skv.second, k);
          try {
            ParseCron(s.frequency);
          } catch (const Error& e) {
            r.Bad(skv.second, std::string("standby frequency: ") + e.what());
          }
        } else {
          BadInput(Where(path, skv.first.Mark()) + ": unknown key \"" + k +
                   "\" in standby (its keys: install, repo, password_file, frequency, project)");
        }
      }
      if (s.install.empty()) r.Bad(v, "standby needs install: (the standby install's folder)");
      c.standby = s;
    } else {
      BadInput(Where(path, kv.first.Mark()) + ": unknown key \"" + key + "\" (the keys: " + kKeys + ")");
    }
  }
  if (c.install.empty() && !c.standby)
    BadInput(path + ": install: is missing (the install folder the daemon backs up)");
  if (c.standby) {
    StandbyConfig& s = *c.standby;
    if (s.repo.empty()) s.repo = c.repo;
    if (s.password_file.empty()) s.password_file = c.password_file;
    if (s.repo.empty()) BadInput(path + ": standby: repo: is missing (the repository the primary backs up into)");
    auto folder = [](const std::string& p) {
      std::string n = std::filesystem::path(p).lexically_normal().string();
      while (n.size() > 1 && n.back() == '/') n.pop_back();
      return n;
    };
    if (!c.install.empty() && folder(s.install) == folder(c.install))
      BadInput(path + ": standby: install: is the daemon's own install " + c.install +
               ": a standby is a second install (on another server)");
  }
  if (!c.install.empty() && c.repo.empty()) BadInput(path + ": repo: is missing (the restic repository)");
  if (c.tls_cert.empty() != c.tls_key.empty()) BadInput(path + ": tls_cert and tls_key go together");
  if (!c.install.empty() && !c.listen.loopback() && c.tls_cert.empty() && !c.allow_plain_http)
    BadInput(path + ": listen " + c.listen.text() +
             " is beyond loopback without TLS: the token would cross the network in clear; give tls_cert and "
             "tls_key, or allow_plain_http: true");
  return c;
}

DaemonConfig LoadDaemonConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) BadInput("cannot read the configuration " + path + ": " + ErrnoString());
  std::stringstream ss;
  ss << in.rdbuf();
  DaemonConfig c = ParseDaemonConfig(ss.str(), path);
  std::error_code ec;
  if (!c.install.empty() && !std::filesystem::is_directory(c.install, ec))
    BadInput(path + ": install " + c.install + " is not a folder");
  if (c.standby && !c.install.empty() &&
      std::filesystem::equivalent(c.install, c.standby->install, ec))  // the same folder by another path
    BadInput(path + ": standby: install: " + c.standby->install + " is the daemon's own install " + c.install +
             ": a standby is a second install (on another server)");
  auto env = [](const char* k) { return std::getenv(k) != nullptr && *std::getenv(k) != 0; };
  const bool from_env = env("RESTIC_PASSWORD_FILE") || env("RESTIC_PASSWORD_COMMAND") || env("RESTIC_PASSWORD");
  if (!c.install.empty() && c.password_file.empty() && !from_env)
    BadInput(path + ": password_file: is missing (the file holding the repository's password)");
  if (c.standby && c.standby->password_file.empty() && !from_env)
    BadInput(path + ": standby: password_file: is missing (the file holding the repository's password)");
  for (const auto* pw : {&c.password_file, c.standby ? &c.standby->password_file : &c.password_file})
    if (!pw->empty() && ::access(pw->c_str(), R_OK) != 0)
      BadInput(path + ": password_file " + *pw + " cannot be read: " + ErrnoString());
  return c;
}

namespace {

// Where a YAML value's trailing comment starts (" # ..."), quotes respected; npos when none.
size_t CommentAt(const std::string& s, size_t from) {
  char quote = 0;
  for (size_t i = from; i < s.size(); ++i) {
    const char ch = s[i];
    if (quote) {
      if (ch == quote) quote = 0;
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t')) {
      return i;
    }
  }
  return std::string::npos;
}

size_t Indent(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos ? s.size() : s.find_first_not_of(" \t"); }

bool BlankOrComment(const std::string& s) {
  const size_t i = Indent(s);
  return i == s.size() || s[i] == '#';
}

}  // namespace

std::string ApplyBackupConfig(const std::string& text, const std::vector<ConfigChange>& changes) {
  std::vector<std::string> lines;
  bool crlf = false;  // written back as it came
  {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      if (!l.empty() && l.back() == '\r') l.pop_back(), crlf = true;
      lines.push_back(l);
    }
  }
  static const std::regex header(R"(^backupConfig:\s*(#.*)?$)");
  size_t at = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    if (std::regex_match(lines[i], header)) {
      at = i;
      break;
    }
    if (lines[i].rfind("backupConfig:", 0) == 0)
      BadInput("backupConfig is written on one line (flow style) in the configuration: write it as a block, one key "
               "per line, so that setConfig can change it");
  }
  if (at == lines.size()) lines.push_back("backupConfig:");
  // The block: the lines after the header that are indented, blank or comments.
  size_t end = at + 1, last_key = at;
  std::string indent = "  ";
  bool indent_known = false;
  while (end < lines.size() && (BlankOrComment(lines[end]) || Indent(lines[end]) > 0)) {
    if (!BlankOrComment(lines[end])) {
      last_key = end;
      if (!indent_known) indent = lines[end].substr(0, Indent(lines[end])), indent_known = true;
    }
    ++end;
  }
  for (const auto& ch : changes) {
    bool done = false;
    for (size_t i = at + 1; i < end && !done; ++i) {
      const std::string& l = lines[i];
      if (BlankOrComment(l) || l.substr(0, indent.size()) != indent) continue;
      const std::string rest = l.substr(indent.size());
      if (rest.rfind(ch.key + ":", 0) != 0) continue;
      const size_t value_at = indent.size() + ch.key.size() + 1;
      const size_t comment = CommentAt(l, value_at);
      std::string tail = comment == std::string::npos ? "" : "  " + l.substr(comment);
      lines[i] = indent + ch.key + ": " + ch.yaml + tail;
      done = true;
    }
    if (!done) {
      lines.insert(lines.begin() + static_cast<long>(last_key + 1), indent + ch.key + ": " + ch.yaml);
      ++last_key;
      ++end;
    }
  }
  std::string out;
  for (const auto& l : lines) out += l + (crlf ? "\r\n" : "\n");
  return out;
}

}  // namespace mig::daemon
