// The known hosts file (docs/remote.md): which keys it holds for a server, whether the key the
// server offered is one of them, adding a new one. Read and matched by libssh2 (hashed names,
// `[host]:port` for ports other than 22), so that the answers agree with its check.
#pragma once

#include <memory>
#include <string>

typedef struct _LIBSSH2_SESSION LIBSSH2_SESSION;
typedef struct _LIBSSH2_KNOWNHOSTS LIBSSH2_KNOWNHOSTS;

namespace mig::ssh {

// What known_hosts says of the key a server offered.
enum class HostKeyVerdict {
  kKnown,      // this very key is there for the host
  kUnknown,    // the host is not there at all
  kChanged,    // the host is there with another key of the same type
  kOtherType,  // the host is there only with keys of other types: refused like a changed key
};

// One known hosts file, read into memory. REQUIRES: the session outlives it (libssh2 allocates
// through it); the session need not be connected.
class KnownHosts {
 public:
  // Reads `file` (a missing file is an empty one). Throws mig::Error when it cannot be read.
  KnownHosts(LIBSSH2_SESSION* s, std::string file);
  ~KnownHosts();
  KnownHosts(const KnownHosts&) = delete;
  KnownHosts& operator=(const KnownHosts&) = delete;

  // The host key methods (libssh2_session_method_pref, LIBSSH2_METHOD_HOSTKEY) of the key types
  // held for host:port that this libssh2 supports, strongest first, comma-separated; "" when
  // none (then the server may offer any type).
  std::string HostKeyMethods(const std::string& host, int port) const;
  // `key` is the raw key the server offered, `type` its LIBSSH2_HOSTKEY_TYPE_*.
  HostKeyVerdict Check(const std::string& host, int port, const char* key, size_t len, int type) const;
  // Appends the key to the file (created 0600, its folder 0700, when absent) and syncs it.
  // Throws mig::Error when it cannot.
  void Append(const std::string& host, int port, const char* key, size_t len, int type);

  const std::string& file() const { return file_; }

 private:
  LIBSSH2_SESSION* s_;
  LIBSSH2_KNOWNHOSTS* kh_;
  std::string file_;
};

// "host" for port 22, "[host]:port" otherwise: the name known_hosts uses.
std::string KnownHostsName(const std::string& host, int port);

}  // namespace mig::ssh
