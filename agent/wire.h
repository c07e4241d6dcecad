// The agent protocol's messages (docs/protocol.md) as values, with their encoders and checked
// decoders. Decoders throw the protocol-violation error on anything out of range.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/frame.h"
#include "sync/entry.h"
#include "sync/source.h"

namespace mig::agent {

inline constexpr size_t kMaxPath = 4096;
inline constexpr size_t kMaxName = 255;
inline constexpr size_t kMaxLinkTarget = 4096;
inline constexpr size_t kMaxMessage = 16384;
inline constexpr uint64_t kGrowthSlack = 1ull << 30;  // a file may grow this much while read

// HELLO: who speaks, and which protocol.
struct Hello {
  uint16_t version = kProtocolVersion;
  std::string program_version;
  std::string machine;  // uname -m
};
std::string EncodeHello(const Hello& h);
Hello DecodeHello(std::string_view payload, std::string_view peer);

// LIST: a folder on the agent's host, and what to send of it.
inline constexpr uint8_t kListCheckReadable = 1;  // an unreadable file stops the listing
inline constexpr uint8_t kListHashes = 2;         // each regular file's XXH3-128 (--checksum)
inline constexpr uint8_t kListTotalsOnly = 4;     // no entries: LIST_END's counts only
struct ListRequest {
  std::string root;
  uint8_t flags = 0;
};
std::string EncodeList(const ListRequest& l);
ListRequest DecodeList(std::string_view payload, std::string_view peer);

// LIST_END: how many entries the listing had, and the bytes of its regular files.
struct ListEnd {
  uint64_t entries = 0, bytes = 0;
};
std::string EncodeListEnd(const ListEnd& e);
ListEnd DecodeListEnd(std::string_view payload, std::string_view peer);

// GET: the regular file at `path` (relative to the listed root), whole or as a delta against
// block sums of `sig_bytes` bytes that follow in SIG frames (agent/block_delta.h). `index` numbers the requests
// (the answer carries it back).
struct Get {
  uint32_t index = 0;
  uint8_t mode = 0;  // 0 whole, 1 delta
  uint32_t sig_bytes = 0;
  std::string path;
};
std::string EncodeGet(const Get& g);
Get DecodeGet(std::string_view payload, std::string_view peer);

// FILE: the answer to a GET begins.
struct FileBegin {
  uint32_t index = 0;
  uint8_t mode = 0;
};
std::string EncodeFileBegin(const FileBegin& f);
FileBegin DecodeFileBegin(std::string_view payload, std::string_view peer);

// FILE_END: what the agent read.
struct FileEnd {
  uint32_t index = 0;
  uint64_t size = 0;
  sync::Hash128 hash;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  bool changed = false;
};
std::string EncodeFileEnd(const FileEnd& f);
FileEnd DecodeFileEnd(std::string_view payload, std::string_view peer);

// FILE_FAIL: the file could not be read; `vanished` when it no longer exists (deleted since
// the listing: the merge goes on without it, as rsync does). ERROR carries a kind (bad input:
// something on the agent's host the operator must fix) and a sentence.
struct FileFail {
  uint32_t index = 0;
  bool vanished = false;
  std::string reason;  // printable
};
std::string EncodeFileFail(uint32_t index, std::string_view reason, bool vanished = false);
FileFail DecodeFileFail(std::string_view payload, std::string_view peer);
std::string EncodeError(std::string_view message, bool bad_input);

// ENTRIES: `entries` appended in the wire form (the caller cuts frames below kMaxFrame).
void EncodeEntry(const sync::Entry& e, PayloadWriter& w);
size_t EncodedEntrySize(const sync::Entry& e);
sync::Entry DecodeEntry(PayloadReader& r);

// Checks a listing as it arrives: names well-formed, in ListTree's order (so no duplicates),
// the root first, every parent a folder sent earlier (so nothing passes through a symlink).
class ListChecker {
 public:
  explicit ListChecker(std::string_view peer) : peer_(peer) {}
  void Check(const sync::Entry& e);
  uint64_t count() const { return count_; }

 private:
  struct Open {
    std::string path;      // a folder whose entries may still come
    std::string last_child;  // the name of its last entry so far
  };
  std::string_view peer_;
  std::vector<Open> open_;
  uint64_t count_ = 0;
};

// RUN: a program for the agent to run on its host (argv[0] looked up on PATH), its stdout
// streamed back in DATA frames, then RUN_END: its exit code (128 + signal when killed) and the
// tail of its stderr. The database dump of a remote migration travels this way.
inline constexpr size_t kMaxArgs = 64;
inline constexpr size_t kMaxStderrTail = 64 << 10;
std::string EncodeRun(const std::vector<std::string>& argv);
std::vector<std::string> DecodeRun(std::string_view payload, std::string_view peer);
struct RunEnd {
  int32_t code = 0;
  std::string err;  // printable
};
std::string EncodeRunEnd(int32_t code, std::string_view err);
RunEnd DecodeRunEnd(std::string_view payload, std::string_view peer);

// `s` cut to `max` bytes with control characters as '?': text from the agent, fit for a
// terminal and a log.
std::string Printable(std::string_view s, size_t max);

// Name rules alone: relative, '/'-separated, no empty, "." or ".." component, no NUL, bounded.
// Returns "" when fine, else why not.
std::string BadPathReason(std::string_view path);

}  // namespace mig::agent
