#include "ssh/session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "ssh/known_hosts.h"

namespace mig::ssh {

namespace {

std::string HomeDir() {
  if (const char* h = std::getenv("HOME"); h && *h) return h;
  if (struct passwd* pw = ::getpwuid(::geteuid())) return pw->pw_dir;
  return "/";
}

std::string Base64(const unsigned char* p, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  while (!out.empty() && out.back() == '=') out.pop_back();  // as OpenSSH prints it
  return out;
}

const char* KeyTypeName(int type) {
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return "RSA";
    case LIBSSH2_HOSTKEY_TYPE_DSS: return "DSA";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ECDSA";
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ED25519";
  }
  return "unknown";
}

// Reads a passphrase from the terminal without echo.
std::string AskPassphrase(const std::string& prompt) {
  std::fprintf(stderr, "%s", prompt.c_str());
  struct termios old {};
  ::tcgetattr(0, &old);
  struct termios quiet = old;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  ::tcsetattr(0, TCSANOW, &quiet);
  std::string line;
  char c;
  while (::read(0, &c, 1) == 1 && c != '\n') line += c;
  ::tcsetattr(0, TCSANOW, &old);
  std::fprintf(stderr, "\n");
  return line;
}

bool LooksEncrypted(const std::string& key_file) {
  std::ifstream in(key_file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find("ENCRYPTED") != std::string::npos) return true;  // PEM
  // OpenSSH format: base64 of "openssh-key-v1\0" + cipher name; "none" means not encrypted.
  return text.find("OPENSSH PRIVATE KEY") != std::string::npos &&
         text.find("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ") == std::string::npos;
}

}  // namespace

std::string Target::Show() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return user + "@" + h + (port == 22 ? "" : ":" + std::to_string(port));
}

Target ParseTarget(const std::string& s) {
  Target t;
  std::string rest = s;
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    t.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) BadUsage("the address '" + s + "' has a '[' without ']'");
    t.host = rest.substr(1, close - 1);
    std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') BadUsage("the address '" + s + "' has text after ']' that is not :PORT");
      port = after.substr(1);
    }
  } else if (std::count(rest.begin(), rest.end(), ':') == 1) {
    t.host = rest.substr(0, rest.find(':'));
    port = rest.substr(rest.find(':') + 1);
  } else {
    t.host = rest;
  }
  if (t.host.empty()) BadUsage("the address '" + s + "' names no host (expected user@host[:port])");
  if (!port.empty()) {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) BadUsage("the port in '" + s + "' is not a number from 1 to 65535");
    t.port = static_cast<int>(p);
  }
  if (t.user.empty()) {
    const char* u = std::getenv("USER");
    struct passwd* pw = ::getpwuid(::geteuid());
    t.user = u && *u ? u : pw ? pw->pw_name : "root";
  }
  return t;
}

Session::Session(const Target& t, const Options& o) : t_(t) {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
  const std::string known_hosts = o.known_hosts.empty() ? HomeDir() + "/.ssh/known_hosts" : o.known_hosts;
  try {
    Connect();
    Handshake(known_hosts);
    CheckHostKey(o, known_hosts);
    Authenticate(o);
  } catch (...) {
    if (s_) libssh2_session_free(s_);
    if (sock_ >= 0) ::close(sock_);
    throw;
  }
  libssh2_keepalive_config(s_, 1, kKeepaliveS);
}

Session::~Session() {
  if (s_) {
    libssh2_session_set_blocking(s_, 1);
    libssh2_session_set_timeout(s_, 2000);
    libssh2_session_disconnect(s_, "migrate is done");
    libssh2_session_free(s_);
  }
  if (sock_ >= 0) ::close(sock_);
}

std::string Session::LastError() {
  char* msg = nullptr;
  libssh2_session_last_error(s_, &msg, nullptr, 0);
  return msg && *msg ? msg : "unknown error";
}

std::string Session::PeerIPv4() const {
  struct sockaddr_storage ss {};
  socklen_t len = sizeof ss;
  if (::getpeername(sock_, reinterpret_cast<struct sockaddr*>(&ss), &len) != 0 || ss.ss_family != AF_INET) return "";
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &reinterpret_cast<struct sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  return buf;
}

void Session::WaitSocket(int timeout_ms, bool want_write, int wake_fd) {
  int dir;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    dir = libssh2_session_block_directions(s_);
  }
  struct pollfd p[2] = {{sock_, 0, 0}, {wake_fd, POLLIN, 0}};
  if (dir & LIBSSH2_SESSION_BLOCK_INBOUND) p[0].events |= POLLIN;
  if ((dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) || want_write) p[0].events |= POLLOUT;
  if (p[0].events == 0) p[0].events = POLLIN;
  ::poll(p, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (wake_fd >= 0 && (p[1].revents & POLLIN)) {
    uint64_t n;
    [[maybe_unused]] ssize_t r = ::read(wake_fd, &n, sizeof n);
  }
}

void Session::Keepalive() {
  int next = 0;
  const int rc = libssh2_keepalive_send(s_, &next);
  // Only the socket's own failures are a lost connection (a dead link fails the socket after
  // kDeadLinkS). libssh2 refuses a keepalive while a packet of a channel is half sent, or
  // the socket would block: the next one is sent later.
  if (rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
      rc == LIBSSH2_ERROR_SOCKET_TIMEOUT || rc == LIBSSH2_ERROR_SOCKET_NONE)
    Fail("the connection to " + t_.Show() + " was lost (" + LastError() + "; no answer for " +
         std::to_string(kDeadLinkS) + " s, or it was cut)");
}

namespace {
// Calls a non-blocking libssh2 function until it stops saying EAGAIN (bounded).
template <typename F>
int Call(Session& s, F f, int timeout_s, const std::string& what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (true) {
    int rc = f();
    if (rc != LIBSSH2_ERROR_EAGAIN) return rc;
    if (std::chrono::steady_clock::now() > deadline)
      Fail(s.target().Show() + " did not answer within " + std::to_string(timeout_s) + " s while " + what);
    s.WaitSocket(1000);
  }
}
}  // namespace

void Session::Connect() {
  struct addrinfo hints {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  int gai = ::getaddrinfo(t_.host.c_str(), std::to_string(t_.port).c_str(), &hints, &res);
  if (gai == EAI_AGAIN)
    Fail("the name " + t_.host + " could not be resolved (" + gai_strerror(gai) +
         "): no name server answered; check this machine's DNS (/etc/resolv.conf), or give --from an address");
  if (gai != 0)
    Fail("the name " + t_.host + " could not be resolved (" + gai_strerror(gai) + "): check the spelling in --from");
  std::unique_ptr<struct addrinfo, decltype(&::freeaddrinfo)> hold(res, ::freeaddrinfo);
  std::string why;
  for (struct addrinfo* a = res; a; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      struct pollfd p {fd, POLLOUT, 0};
      int n = ::poll(&p, 1, kConnectTimeoutS * 1000);
      socklen_t len = sizeof err;
      if (n == 0) err = ETIMEDOUT;
      else ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err == 0) {
      sock_ = fd;
      break;
    }
    ::close(fd);
    if (err == ECONNREFUSED)
      why = "refused the connection on port " + std::to_string(t_.port) + ": is sshd running there, on that port?";
    else if (err == ETIMEDOUT)
      why = "did not answer within " + std::to_string(kConnectTimeoutS) + " s: a firewall, or a wrong address?";
    else
      why = "cannot be reached: " + ErrnoString(err);
  }
  if (sock_ < 0) Fail(t_.host + " " + why);
  // A dead link must fail the run, not hang it: probes while idle (libssh2's keepalives keep the
  // link busy besides), and data unacknowledged for kDeadLinkS ends the connection.
  int on = 1, idle = kKeepaliveS, count = 4;
  unsigned int user_timeout_ms = kDeadLinkS * 1000;
  ::setsockopt(sock_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(sock_, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(sock_, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof idle);
  ::setsockopt(sock_, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(sock_, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

void Session::Handshake(const std::string& known_hosts) {
  for (int attempt = 0;; ++attempt) {
    s_ = libssh2_session_init();
    if (!s_) Fail("cannot start an SSH session (libssh2)");
    libssh2_session_set_blocking(s_, 0);
    // Ask for a key of a type known_hosts holds for this server, or it is checked against none
    // (libssh2 takes ECDSA first; OpenSSH writes the ED25519 key).
    std::string methods;
    if (attempt == 0) methods = KnownHosts(s_, known_hosts).HostKeyMethods(t_.host, t_.port);
    if (!methods.empty() && libssh2_session_method_pref(s_, LIBSSH2_METHOD_HOSTKEY, methods.c_str()) != 0)
      Fail("cannot ask " + t_.Show() + " for a host key of the types known for it (" + methods + "): " + LastError());
    int rc = Call(*this, [&] { return libssh2_session_handshake(s_, sock_); }, kConnectTimeoutS, "starting SSH");
    if (rc == 0) return;
    if (rc == LIBSSH2_ERROR_KEX_FAILURE && !methods.empty()) {
      // It offers no key of those types: connect again taking what it offers, so that the
      // check refuses it by name (CheckHostKey).
      TheLog().file_only(t_.Show() + " offers no host key of the types " + methods + "; connecting again to name its key");
      libssh2_session_free(s_);
      s_ = nullptr;
      ::close(sock_);
      sock_ = -1;
      Connect();
      continue;
    }
    Fail("the SSH handshake with " + t_.Show() + " failed: " + LastError() + " (is it an SSH server?)");
  }
}

void Session::CheckHostKey(const Options& o, const std::string& known_hosts) {
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(s_, &len, &type);
  if (!key) Fail("the SSH server " + t_.Show() + " sent no host key");
  const char* hash = libssh2_hostkey_hash(s_, LIBSSH2_HOSTKEY_HASH_SHA256);
  fingerprint_ = std::string(KeyTypeName(type)) + " key SHA256:" +
                 (hash ? Base64(reinterpret_cast<const unsigned char*>(hash), 32) : "?");
  KnownHosts known(s_, known_hosts);
  const std::string& file = known.file();
  const std::string spec = KnownHostsName(t_.host, t_.port);
  HostKeyVerdict verdict = known.Check(t_.host, t_.port, key, len, type);
  if (verdict == HostKeyVerdict::kKnown) return;
  if (verdict == HostKeyVerdict::kChanged || verdict == HostKeyVerdict::kOtherType)
    Fail("the host key of " + spec + " has CHANGED: it now offers the " + fingerprint_ + ", and " + file +
         (verdict == HostKeyVerdict::kChanged ? " holds another" : " holds only keys of other types for it") +
         ". Someone may be in the middle; if you know the server was reinstalled, remove the old "
         "key with `ssh-keygen -f " + file + " -R '" + spec + "'` and run again with --accept-new-host-key");
  if (!o.accept_new_host_key)
    Fail("the host key of " + spec + " is not known (" + fingerprint_ + " is not in " + file +
         "): compare it with the server's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` there), "
         "then run again with --accept-new-host-key to add it");
  known.Append(t_.host, t_.port, key, len, type);
  TheLog().info("added the host key of " + spec + " (" + fingerprint_ + ") to " + file);
}

void Session::Authenticate(const Options& o) {
  const std::string& u = t_.user;
  const unsigned ulen = static_cast<unsigned>(u.size());
  char* methods = nullptr;
  Call(*this, [&] {
    methods = libssh2_userauth_list(s_, u.c_str(), ulen);
    if (methods) return 0;
    return libssh2_session_last_errno(s_);
  }, kOperationTimeoutS, "asking for the authentication methods");
  if (libssh2_userauth_authenticated(s_)) return;
  std::string offered = methods ? methods : "none";
  if (offered.find("publickey") == std::string::npos)
    Fail(t_.Show() + " accepts no public key authentication (it offers: " + offered + "): migrate needs a key");
  std::vector<std::string> tried;
  auto try_file = [&](const std::string& key, bool must) -> bool {
    if (::access(key.c_str(), R_OK) != 0) {
      if (must) BadInput("cannot read the key file " + key + ": " + ErrnoString());
      return false;
    }
    const char* env = std::getenv("SSH_KEY_PASSPHRASE");
    std::string pass = env ? env : "";
    for (int attempt = 0; attempt < 2; ++attempt) {
      int rc = Call(*this, [&] {
        return libssh2_userauth_publickey_fromfile_ex(s_, u.c_str(), ulen, nullptr, key.c_str(),
                                                      pass.empty() ? nullptr : pass.c_str());
      }, kOperationTimeoutS, "authenticating");
      if (rc == 0) return true;
      if (rc == LIBSSH2_ERROR_FILE && pass.empty() && must && LooksEncrypted(key) && ::isatty(0) && attempt == 0) {
        pass = AskPassphrase("Passphrase for " + key + ": ");
        continue;
      }
      if (rc == LIBSSH2_ERROR_FILE && must)
        BadInput("cannot use the key file " + key + ": " +
                 (LooksEncrypted(key) ? std::string(pass.empty() ? "it needs a passphrase (set SSH_KEY_PASSPHRASE, or run on a terminal)"
                                                                  : "wrong passphrase")
                                      : "unreadable or unsupported format (" + LastError() + ")"));
      break;
    }
    tried.push_back(key);
    return false;
  };
  // libssh2 before 1.11 signs with RSA keys by SHA-1 (ssh-rsa), which OpenSSH 8.8+ refuses.
  auto rsa_hint = [&]() -> std::string {
    if (libssh2_version(0x010b00)) return "";
    for (const auto& k : tried) {
      std::ifstream in(k);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (text.find("RSA PRIVATE KEY") != std::string::npos || k.find("rsa") != std::string::npos)
        return ". Note: this libssh2 (" + std::string(libssh2_version(0)) +
               ") signs with RSA keys by SHA-1 (ssh-rsa), which OpenSSH 8.8 and later refuse by default: use an "
               "ed25519 or ecdsa key, or allow `PubkeyAcceptedAlgorithms +ssh-rsa` in the old server's sshd_config";
    }
    return "";
  };
  if (!o.key_file.empty()) {
    if (try_file(o.key_file, true)) return;
  } else {
    const char* sock = std::getenv("SSH_AUTH_SOCK");
    if (sock && *sock) {
      LIBSSH2_AGENT* agent = libssh2_agent_init(s_);
      std::unique_ptr<LIBSSH2_AGENT, decltype(&libssh2_agent_free)> hold(agent, libssh2_agent_free);
      if (agent && libssh2_agent_connect(agent) == 0 && libssh2_agent_list_identities(agent) == 0) {
        struct libssh2_agent_publickey* id = nullptr;
        int n = 0;
        while (libssh2_agent_get_identity(agent, &id, id) == 0) {
          ++n;
          int rc = Call(*this, [&] { return libssh2_agent_userauth(agent, u.c_str(), id); }, kOperationTimeoutS,
                        "authenticating with ssh-agent");
          if (rc == 0) {
            libssh2_agent_disconnect(agent);
            return;
          }
        }
        libssh2_agent_disconnect(agent);
        tried.push_back("ssh-agent (" + std::to_string(n) + " keys)");
      }
    }
    for (const char* name : {"id_ed25519", "id_ecdsa", "id_rsa"})
      if (try_file(HomeDir() + "/.ssh/" + name, false)) return;
  }
  std::string list;
  for (const auto& k : tried) list += (list.empty() ? "" : ", ") + k;
  Fail(t_.Show() + " rejected the authentication of " + u + " (tried: " + (list.empty() ? "no key found" : list) +
       "): give a key with --key FILE whose public half is in " + u + "'s ~/.ssh/authorized_keys there" + rsa_hint());
}

}  // namespace mig::ssh
