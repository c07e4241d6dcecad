// A deliberately hostile migrate-agent for the tests (tests/e2e/merge_hostile.sh): it speaks
// the protocol but sends what rsync's 2024 advisories and their cousins describe. The scenario
// comes from $HOSTILE; what the receiver sent is logged to $HOSTILE_LOG (one line per frame,
// so the tests can show that no signature of a file outside the target was ever sent).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "agent/frame.h"
#include "core/io.h"
#include "agent/wire.h"
#include "core/error.h"

using namespace mig::agent;
using mig::ReadFd;
using mig::WriteFd;
using mig::sync::Entry;
using mig::sync::FileType;

namespace {

FrameDecoder dec("receiver");
FILE* logf = nullptr;

Frame Next() {
  while (true) {
    if (auto f = dec.Next()) {
      if (logf) {
        std::fprintf(logf, "%s %zu\n", TypeName(f->type), f->payload.size());
        std::fflush(logf);
      }
      return *f;
    }
    char buf[65536];
    size_t n = ReadFd(0, buf, sizeof buf, "stdin");
    if (n == 0) std::exit(0);
    dec.Feed(std::string_view(buf, n));
  }
}

void Out(const std::string& bytes) { WriteFd(1, bytes.data(), bytes.size(), "stdout"); }
void Send(Type t, std::string_view p) { Out(EncodeFrame(t, p)); }

Entry Mk(std::string path, FileType t, uint64_t size = 0, std::string target = "") {
  Entry e;
  e.path = std::move(path);
  e.type = t;
  e.mode = t == FileType::kDirectory ? 0755 : t == FileType::kSymlink ? 0777 : 0644;
  e.size = size;
  e.mtime_sec = 1700000000;
  e.link_target = std::move(target);
  return e;
}

void SendListing(const std::vector<Entry>& es, uint64_t extra_bytes = 0) {
  PayloadWriter w;
  w.U32(static_cast<uint32_t>(es.size()));
  for (const Entry& e : es) EncodeEntry(e, w);
  Send(Type::kEntries, w.data());
  uint64_t bytes = extra_bytes;
  for (const Entry& e : es) bytes += e.size;
  Send(Type::kListEnd, EncodeListEnd({es.size(), bytes}));
}

// A librsync delta (big-endian numbers): magic, then COPY (offset u32, length u32), then END.
std::string CopyDelta(uint32_t offset, uint32_t len) {
  std::string d = "\x72\x73\x02\x36";
  d += '\x4f';
  for (uint32_t v : {offset, len})
    for (int i = 3; i >= 0; --i) d += static_cast<char>((v >> (8 * i)) & 0xff);
  d += '\0';
  return d;
}

}  // namespace

int main() {
  std::string scenario = std::getenv("HOSTILE") ? std::getenv("HOSTILE") : "";
  if (const char* l = std::getenv("HOSTILE_LOG")) logf = std::fopen(l, "a");
  if (scenario == "not-agent") {
    Out("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\nProtocol mismatch.\n");
    return 0;
  }
  if (scenario == "error-at-once") {  // fails before reading anything: our HELLO may find it gone
    Send(Type::kHello, EncodeHello({kProtocolVersion, MIGRATE_VERSION, "x86_64"}));
    Send(Type::kError, EncodeError("hostile-agent: cannot serve \033[2Jtoday", false));
    return 1;
  }
  Next();  // HELLO
  Send(Type::kHello, EncodeHello({kProtocolVersion, MIGRATE_VERSION, "x86_64"}));
  if (scenario == "huge-frame") {
    Out(std::string("\xff\xff\xff\xff\x04\x00\x00\x00", 8));
    sleep(5);  // the receiver must refuse the header at once, not wait for 4 GiB
    return 0;
  }
  Next();  // LIST
  const Entry root = Mk("", FileType::kDirectory);
  const char* outside = std::getenv("HOSTILE_OUTSIDE");  // a folder outside the target
  if (scenario == "absolute") return SendListing({root, Mk("/etc/cron.d/pwned", FileType::kRegular, 4)}), 0;
  if (scenario == "dotdot") return SendListing({root, Mk("../pwned", FileType::kRegular, 4)}), 0;
  if (scenario == "nul") return SendListing({root, Mk(std::string("a\0b", 3), FileType::kRegular, 4)}), 0;
  if (scenario == "long-name") return SendListing({root, Mk(std::string(300, 'n'), FileType::kRegular, 4)}), 0;
  if (scenario == "duplicate")
    return SendListing({root, Mk("a", FileType::kRegular, 4), Mk("a", FileType::kRegular, 4)}), 0;
  if (scenario == "through-symlink")  // a -> outside, then a/pwned: rsync's CVE-2024-12087 shape
    return SendListing({root, Mk("a", FileType::kSymlink, 0, outside), Mk("a/pwned", FileType::kRegular, 4)}), 0;
  if (scenario == "wrong-totals") return SendListing({root, Mk("f", FileType::kRegular, 4)}, 1000), 0;
  if (scenario == "hash-on-folder") {
    Entry d = Mk("d", FileType::kDirectory);
    d.has_hash = true;
    return SendListing({root, d}), 0;
  }
  if (scenario == "late-violation") {
    // Entries the target already has (so the receiver plans them while the listing still
    // comes), in frames of 100, then an entry out of order: nothing may have been written.
    std::vector<Entry> es = {root, Mk("a", FileType::kDirectory)};
    for (int i = 0; i < 1000; ++i) {
      char name[16];
      std::snprintf(name, sizeof name, "a/f%04d", i);
      es.push_back(Mk(name, FileType::kRegular, 4));
    }
    es.push_back(Mk("a/f0000", FileType::kRegular, 4));
    for (size_t at = 0; at < es.size(); at += 100) {
      PayloadWriter w;
      size_t n = std::min<size_t>(100, es.size() - at);
      w.U32(static_cast<uint32_t>(n));
      for (size_t i = at; i < at + n; ++i) EncodeEntry(es[i], w);
      Send(Type::kEntries, w.data());
    }
    Send(Type::kListEnd, EncodeListEnd({es.size(), 4 * (es.size() - 2)}));
    Next();  // nothing more should come
    return 0;
  }
  if (scenario == "truncated") {
    Out(EncodeFrame(Type::kEntries, "\x05\x00\x00\x00").substr(0, 6));
    return 0;
  }
  // The rest send a good listing: the root, a folder `d`, a file `big.bin` of 100000 bytes.
  std::vector<Entry> es = {root, Mk("big.bin", FileType::kRegular, 100000), Mk("d", FileType::kDirectory),
                           Mk("d/x", FileType::kRegular, 4)};
  SendListing(es);
  while (true) {
    Frame f = Next();
    if (f.type == Type::kBye) return 0;
    if (f.type == Type::kSig) continue;
    if (f.type != Type::kGet) continue;
    Get g = DecodeGet(f.payload, "receiver");
    if (g.mode == 1) {
      uint32_t got = 0;
      while (got < g.sig_bytes) got += static_cast<uint32_t>(Next().payload.size());
    }
    if (scenario == "wrong-index") {
      Send(Type::kFile, EncodeFileBegin({g.index + 7, g.mode}));
      return 0;
    }
    if (scenario == "data-outside-file") {
      Send(Type::kData, "stray");
      return 0;
    }
    Send(Type::kFile, EncodeFileBegin({g.index, g.mode}));
    uint64_t size = 0;
    for (const Entry& e : es)
      if (e.path == g.path) size = e.size;
    std::string content(size, 'h');
    if (scenario == "copy-outside" && g.mode == 1) {
      Send(Type::kData, CopyDelta(0x7ffff000, 0x10000));  // far past the end of the receiver's copy
      FileEnd end{g.index, 0x10000, {}, 1700000000, 0, false};
      Send(Type::kFileEnd, EncodeFileEnd(end));
      continue;
    }
    if (g.mode == 1) {
      std::fprintf(stderr, "hostile-agent: the receiver asked for a delta of %s\n", g.path.c_str());
      return 3;
    }
    Send(Type::kData, content);
    FileEnd end{g.index, content.size(), {0x1234, 0x5678}, 1700000000, 0, false};  // a hash that lies
    if (scenario != "bad-hash") {
      Send(Type::kFileFail, EncodeFileFail(g.index, "scenario " + scenario + " not known to hostile-agent"));
      return 0;
    }
    Send(Type::kFileEnd, EncodeFileEnd(end));
  }
}
