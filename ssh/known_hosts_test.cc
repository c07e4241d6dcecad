// The known hosts file: which key types it holds for a server, and the verdict on the key the
// server offered (libssh2 parses and matches; no network).
#include "ssh/known_hosts.h"

#include <libssh2.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "core/error.h"

namespace fs = std::filesystem;

namespace mig::ssh {
namespace {

// Throwaway keys made for this test with ssh-keygen (public halves only).
const char* const kEd1 = "AAAAC3NzaC1lZDI1NTE5AAAAIPTnaw+YAGG0YqzzAawpDdykqhYPzLKWUL4EdPsC0Pg2";
const char* const kEd2 = "AAAAC3NzaC1lZDI1NTE5AAAAIC3+1i+AXPjbqWnW5PmBpR8BhUfeFTGRlcSJunAm5Zsh";
const char* const kEcdsa =
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBDGnowThFT1PBLwhC1pDIvgiAloMNnHrOUBl3oqBiR99rzJELU98nNBhoq7"
    "pWEhGOZBSz499/Cc2626axfF9Ccs=";
// kEd1 for [old.example]:2222, its name hashed by `ssh-keygen -H`.
const char* const kHashedEd1 = "|1|KacFDSZ5laou+srsD2gtQVB0QSw=|7gU7JYYbKUvoL5sgWn/dvvYuDmw=";

// The raw key, as libssh2_session_hostkey hands it over.
std::string Raw(const char* b64) {
  std::string in(b64);
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  REQUIRE(n >= 0);
  size_t pad = in.size() - in.find_last_not_of('=') - 1;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// A known hosts file with `text`, and a libssh2 session (not connected) to read it with.
struct Fixture {
  std::string dir;
  std::string file;
  LIBSSH2_SESSION* s;
  explicit Fixture(const std::string& text) {
    static std::once_flag once;
    std::call_once(once, [] { libssh2_init(0); });
    char tmpl[] = "/tmp/known-hosts-test.XXXXXX";
    dir = ::mkdtemp(tmpl);
    file = dir + "/known_hosts";
    std::ofstream(file) << text;
    s = libssh2_session_init();
    REQUIRE(s != nullptr);
  }
  ~Fixture() {
    libssh2_session_free(s);
    fs::remove_all(dir);
  }
  HostKeyVerdict Check(const std::string& host, int port, const char* b64, int type) {
    KnownHosts k(s, file);
    std::string key = Raw(b64);
    return k.Check(host, port, key.data(), key.size(), type);
  }
};

}  // namespace

TEST_CASE("known_hosts: the key held for [host]:port is known, another of its type has changed") {
  Fixture f(std::string("[old.example]:2222 ssh-ed25519 ") + kEd1 + "\n");
  CHECK(f.Check("old.example", 2222, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kKnown);
  CHECK(f.Check("old.example", 2222, kEd2, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kChanged);
  CHECK(f.Check("new.example", 2222, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kUnknown);
}

TEST_CASE("known_hosts: a host known by an ED25519 key that offers an ECDSA key is refused, not new") {
  Fixture f(std::string("[old.example]:2222 ssh-ed25519 ") + kEd1 + "\n");
  CHECK(f.Check("old.example", 2222, kEcdsa, LIBSSH2_HOSTKEY_TYPE_ECDSA_256) == HostKeyVerdict::kOtherType);
}

TEST_CASE("known_hosts: a hashed name is matched, for its key type only") {
  Fixture f(std::string(kHashedEd1) + " ssh-ed25519 " + kEd1 + "\n");
  CHECK(f.Check("old.example", 2222, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kKnown);
  CHECK(f.Check("old.example", 2222, kEcdsa, LIBSSH2_HOSTKEY_TYPE_ECDSA_256) == HostKeyVerdict::kOtherType);
  CHECK(f.Check("old.example", 22, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kUnknown);
  KnownHosts k(f.s, f.file);
  CHECK(k.HostKeyMethods("old.example", 2222) == "ssh-ed25519");
  CHECK(k.HostKeyMethods("old.example", 22) == "");
}

TEST_CASE("known_hosts: the server is asked for the key types held for it, ED25519 first") {
  Fixture f(std::string("old.example ecdsa-sha2-nistp256 ") + kEcdsa + "\nold.example ssh-ed25519 " + kEd1 +
            "\nother.example ssh-ed25519 " + kEd2 + "\n");
  KnownHosts k(f.s, f.file);
  CHECK(k.HostKeyMethods("old.example", 22) == "ssh-ed25519,ecdsa-sha2-nistp256");
  CHECK(k.HostKeyMethods("other.example", 22) == "ssh-ed25519");
  CHECK(k.HostKeyMethods("unknown.example", 22) == "");
  // Both types held: the ECDSA key it offers is checked against the ECDSA entry.
  CHECK(f.Check("old.example", 22, kEcdsa, LIBSSH2_HOSTKEY_TYPE_ECDSA_256) == HostKeyVerdict::kKnown);
}

TEST_CASE("known_hosts: a missing file is empty, and an added key is known when read again") {
  Fixture f("");
  fs::remove(f.file);
  f.file = f.dir + "/ssh/known_hosts";  // its folder is made too
  CHECK(f.Check("old.example", 2222, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kUnknown);
  {
    KnownHosts k(f.s, f.file);
    std::string key = Raw(kEd1);
    k.Append("old.example", 2222, key.data(), key.size(), LIBSSH2_HOSTKEY_TYPE_ED25519);
  }
  std::ifstream in(f.file);
  std::string line;
  std::getline(in, line);
  CHECK(line == std::string("[old.example]:2222 ssh-ed25519 ") + kEd1);
  CHECK(fs::status(f.file).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  CHECK(f.Check("old.example", 2222, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kKnown);
}

TEST_CASE("known_hosts: a host known only by a key type libssh2 cannot use is refused, not new") {
  Fixture f(std::string("old.example sk-ssh-ed25519@openssh.com ") + kEd2 + "\n");
  CHECK(f.Check("old.example", 22, kEd1, LIBSSH2_HOSTKEY_TYPE_ED25519) == HostKeyVerdict::kOtherType);
  KnownHosts k(f.s, f.file);
  CHECK(k.HostKeyMethods("old.example", 22) == "");
}

TEST_CASE("known_hosts: the name of a host on port 22 is bare, on another port bracketed") {
  CHECK(KnownHostsName("old.example", 22) == "old.example");
  CHECK(KnownHostsName("old.example", 2222) == "[old.example]:2222");
  CHECK(KnownHostsName("::1", 2222) == "[::1]:2222");
}

}  // namespace mig::ssh
