#include "ssh/known_hosts.h"

#include <fcntl.h>
#include <libssh2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "core/error.h"

namespace mig::ssh {

namespace {

// The key types known_hosts can hold that a server may offer, in the order we ask for them,
// with their host key methods (RSA keys sign with SHA-2 where this libssh2 can).
struct KeyKind {
  int known_bit;        // LIBSSH2_KNOWNHOST_KEY_*
  const char* methods;  // comma-separated
};
constexpr KeyKind kKinds[] = {
    {LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519"},
    {LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256"},
    {LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384"},
    {LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521"},
    {LIBSSH2_KNOWNHOST_KEY_SSHRSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa"},
    {LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss"},
};

int KnownHostKeyBit(int type) {
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
  }
  return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

std::string LastError(LIBSSH2_SESSION* s) {
  char* msg = nullptr;
  libssh2_session_last_error(s, &msg, nullptr, 0);
  return msg && *msg ? msg : "unknown error";
}

}  // namespace

std::string KnownHostsName(const std::string& host, int port) {
  return port == 22 ? host : "[" + host + "]:" + std::to_string(port);
}

KnownHosts::KnownHosts(LIBSSH2_SESSION* s, std::string file) : s_(s), kh_(libssh2_knownhost_init(s)), file_(std::move(file)) {
  if (!kh_) Fail("cannot read the known hosts file " + file_ + ": " + LastError(s_));
  if (::access(file_.c_str(), F_OK) == 0 &&
      libssh2_knownhost_readfile(kh_, file_.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    std::string err = LastError(s_);
    libssh2_knownhost_free(kh_);
    Fail("cannot read the known hosts file " + file_ + ": " + err);
  }
}

KnownHosts::~KnownHosts() { libssh2_knownhost_free(kh_); }

std::string KnownHosts::HostKeyMethods(const std::string& host, int port) const {
  const char** algs = nullptr;
  int n = libssh2_session_supported_algs(s_, LIBSSH2_METHOD_HOSTKEY, &algs);
  std::vector<std::string> supported;
  for (int i = 0; i < n; ++i) supported.emplace_back(algs[i]);
  if (n > 0) libssh2_free(s_, algs);
  std::string out;
  // A key no real entry can hold: the check answers MISMATCH when the host has a key of the
  // type asked, NOTFOUND when it has none (libssh2 compares keys of one type only).
  const char probe[1] = {0};
  for (const KeyKind& k : kKinds) {
    int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | k.known_bit;
    if (libssh2_knownhost_checkp(kh_, host.c_str(), port, probe, sizeof probe, mask, nullptr) !=
        LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
      continue;
    std::string names = k.methods;
    for (size_t at = 0; at <= names.size();) {
      size_t comma = std::min(names.find(',', at), names.size());
      std::string name = names.substr(at, comma - at);
      bool ok = false;
      for (const auto& s : supported) ok = ok || s == name;
      if (ok && ("," + out + ",").find("," + name + ",") == std::string::npos) out += (out.empty() ? "" : ",") + name;
      at = comma + 1;
    }
  }
  return out;
}

HostKeyVerdict KnownHosts::Check(const std::string& host, int port, const char* key, size_t len, int type) const {
  const int raw = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
  int rc = libssh2_knownhost_checkp(kh_, host.c_str(), port, key, len, raw | KnownHostKeyBit(type), nullptr);
  if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) return HostKeyVerdict::kKnown;
  if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) return HostKeyVerdict::kChanged;
  if (rc != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
    Fail("cannot check the host key of " + KnownHostsName(host, port) + " in " + file_ + ": " + LastError(s_));
  // No key of this type: a key type of 0 makes libssh2 compare with the host's keys of every type.
  rc = libssh2_knownhost_checkp(kh_, host.c_str(), port, key, len, raw, nullptr);
  if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) return HostKeyVerdict::kKnown;
  if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) return HostKeyVerdict::kOtherType;
  return HostKeyVerdict::kUnknown;
}

void KnownHosts::Append(const std::string& host, int port, const char* key, size_t len, int type) {
  const std::string spec = KnownHostsName(host, port);
  const int mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | KnownHostKeyBit(type);
  struct libssh2_knownhost* entry = nullptr;
  if (libssh2_knownhost_addc(kh_, spec.c_str(), nullptr, key, len, nullptr, 0, mask, &entry) != 0)
    Fail("cannot add the host key of " + spec + ": " + LastError(s_));
  std::vector<char> line(16384);
  size_t out = 0;
  if (libssh2_knownhost_writeline(kh_, entry, line.data(), line.size(), &out, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
    Fail("cannot write the host key of " + spec + ": " + LastError(s_));
  size_t slash = file_.rfind('/');
  if (slash != std::string::npos && slash > 0) ::mkdir(file_.substr(0, slash).c_str(), 0700);
  int fd = ::open(file_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, line.data(), out) != static_cast<ssize_t>(out) || ::fsync(fd) != 0) {
    std::string err = ErrnoString();
    if (fd >= 0) ::close(fd);
    Fail("cannot add the host key of " + spec + " to " + file_ + ": " + err);
  }
  ::close(fd);
}

}  // namespace mig::ssh
