#include "agent/wire.h"

namespace mig::agent {

using sync::Entry;
using sync::FileType;

std::string EncodeHello(const Hello& h) {
  PayloadWriter w;
  w.U32(kMagic).U16(h.version).Str(h.program_version).Str(h.machine);
  return w.take();
}

Hello DecodeHello(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  if (r.left() < 4 || r.U32() != kMagic) Violation(peer, "it does not speak the migrate agent protocol");
  Hello h;
  h.version = r.U16();
  if (h.version != kProtocolVersion) return h;  // another version may say more: the caller says which
  h.program_version = Printable(r.Str(64), 64);
  h.machine = Printable(r.Str(64), 64);
  r.Done("HELLO");
  return h;
}

std::string EncodeRun(const std::vector<std::string>& argv) {
  PayloadWriter w;
  w.U16(static_cast<uint16_t>(argv.size()));
  for (const auto& a : argv) w.Str(a);
  return w.take();
}

std::vector<std::string> DecodeRun(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  uint16_t n = r.U16();
  if (n == 0 || n > kMaxArgs) Violation(peer, "a RUN with " + std::to_string(n) + " arguments");
  std::vector<std::string> argv;
  for (uint16_t i = 0; i < n; ++i) {
    argv.emplace_back(r.Str(kMaxPath));
    if (argv.back().find('\0') != std::string::npos) Violation(peer, "a RUN argument with a NUL byte");
  }
  r.Done("RUN");
  return argv;
}

std::string EncodeRunEnd(int32_t code, std::string_view err) {
  PayloadWriter w;
  w.U32(static_cast<uint32_t>(code)).LStr(err.substr(err.size() > kMaxStderrTail ? err.size() - kMaxStderrTail : 0));
  return w.take();
}

RunEnd DecodeRunEnd(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  RunEnd e;
  e.code = static_cast<int32_t>(r.U32());
  for (char c : r.LStr(kMaxStderrTail))  // lines kept, other control characters not
    e.err += c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : '?';
  r.Done("RUN_END");
  if (e.code < 0 || e.code > 255) Violation(peer, "a RUN_END with exit code " + std::to_string(e.code));
  return e;
}

std::string Printable(std::string_view s, size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (s.size() > max) out += "...";
  return out;
}

std::string EncodeList(const ListRequest& l) {
  PayloadWriter w;
  w.Str(l.root).U8(l.flags);
  return w.take();
}

ListRequest DecodeList(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  ListRequest l;
  l.root = r.Str(kMaxPath);
  l.flags = r.U8();
  r.Done("LIST");
  if (l.flags > 7) Violation(peer, "a LIST with unknown flags " + std::to_string(l.flags));
  return l;
}

std::string EncodeListEnd(const ListEnd& e) {
  PayloadWriter w;
  w.U64(e.entries).U64(e.bytes);
  return w.take();
}

ListEnd DecodeListEnd(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  ListEnd e;
  e.entries = r.U64();
  e.bytes = r.U64();
  r.Done("LIST_END");
  return e;
}

std::string EncodeGet(const Get& g) {
  PayloadWriter w;
  w.U32(g.index).U8(g.mode).U32(g.sig_bytes).Str(g.path);
  return w.take();
}

Get DecodeGet(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  Get g;
  g.index = r.U32();
  g.mode = r.U8();
  g.sig_bytes = r.U32();
  g.path = r.Str(kMaxPath);
  r.Done("GET");
  if (g.mode > 1) Violation(peer, "a GET with mode " + std::to_string(g.mode));
  if (g.mode == 0 && g.sig_bytes != 0) Violation(peer, "a whole-file GET with a signature");
  if (g.path.empty()) Violation(peer, "a GET for the root folder");
  if (std::string why = BadPathReason(g.path); !why.empty()) Violation(peer, "a GET for " + why);
  return g;
}

std::string EncodeFileBegin(const FileBegin& f) {
  PayloadWriter w;
  w.U32(f.index).U8(f.mode);
  return w.take();
}

FileBegin DecodeFileBegin(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  FileBegin f;
  f.index = r.U32();
  f.mode = r.U8();
  r.Done("FILE");
  if (f.mode > 1) Violation(peer, "a FILE with mode " + std::to_string(f.mode));
  return f;
}

std::string EncodeFileEnd(const FileEnd& f) {
  PayloadWriter w;
  w.U32(f.index).U64(f.size).U64(f.hash.lo).U64(f.hash.hi).I64(f.mtime_sec).U32(f.mtime_nsec).U8(f.changed);
  return w.take();
}

FileEnd DecodeFileEnd(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  FileEnd f;
  f.index = r.U32();
  f.size = r.U64();
  f.hash.lo = r.U64();
  f.hash.hi = r.U64();
  f.mtime_sec = r.I64();
  f.mtime_nsec = r.U32();
  uint8_t changed = r.U8();
  r.Done("FILE_END");
  if (changed > 1 || f.mtime_nsec >= 1000000000u) Violation(peer, "a FILE_END with fields out of range");
  f.changed = changed == 1;
  return f;
}

std::string EncodeFileFail(uint32_t index, std::string_view reason, bool vanished) {
  PayloadWriter w;
  w.U32(index).U8(vanished ? 1 : 0).LStr(reason.substr(0, kMaxMessage));
  return w.take();
}

FileFail DecodeFileFail(std::string_view payload, std::string_view peer) {
  PayloadReader r(payload, peer);
  FileFail f;
  f.index = r.U32();
  uint8_t kind = r.U8();
  f.reason = Printable(r.LStr(kMaxMessage), 2000);
  r.Done("FILE_FAIL");
  if (kind > 1) Violation(peer, "a FILE_FAIL of unknown kind " + std::to_string(kind));
  f.vanished = kind == 1;
  return f;
}

std::string EncodeError(std::string_view message, bool bad_input) {
  PayloadWriter w;
  w.U8(bad_input ? 1 : 0).LStr(message.substr(0, kMaxMessage));
  return w.take();
}

void EncodeEntry(const Entry& e, PayloadWriter& w) {
  w.Str(e.path).U8(static_cast<uint8_t>(e.type)).U32(e.mode).U32(e.uid).U32(e.gid).U64(e.size);
  w.I64(e.mtime_sec).U32(e.mtime_nsec).U64(e.rdev).LStr(e.link_target).U8(e.has_hash ? 1 : 0);
  if (e.has_hash) w.U64(e.hash_lo).U64(e.hash_hi);
}

size_t EncodedEntrySize(const Entry& e) {
  return 2 + e.path.size() + 1 + 4 * 3 + 8 + 8 + 4 + 8 + 4 + e.link_target.size() + 1 + (e.has_hash ? 16 : 0);
}

Entry DecodeEntry(PayloadReader& r) {
  Entry e;
  e.path = r.Str(kMaxPath);
  uint8_t type = r.U8();
  e.mode = r.U32();
  e.uid = r.U32();
  e.gid = r.U32();
  e.size = r.U64();
  e.mtime_sec = r.I64();
  e.mtime_nsec = r.U32();
  e.rdev = r.U64();
  e.link_target = r.LStr(kMaxLinkTarget);
  uint8_t extra = r.U8();
  if (extra > 1) Violation(r.peer(), "an entry with unknown flags " + std::to_string(extra));
  if (extra & 1) {
    e.has_hash = true;
    e.hash_lo = r.U64();
    e.hash_hi = r.U64();
  }
  if (type > static_cast<uint8_t>(FileType::kSocket))
    Violation(r.peer(), "an entry of unknown type " + std::to_string(type));
  e.type = static_cast<FileType>(type);
  if (e.mode > 07777) Violation(r.peer(), "an entry with mode bits outside 07777");
  if (e.mtime_nsec >= 1000000000u) Violation(r.peer(), "an entry with a nanosecond field over 1e9");
  if (e.type != FileType::kRegular && e.size != 0) Violation(r.peer(), "a size on an entry that is not a file");
  if (e.type != FileType::kRegular && e.has_hash) Violation(r.peer(), "a content hash on an entry that is not a file");
  if (e.type == FileType::kSymlink) {
    if (e.link_target.empty() || e.link_target.find('\0') != std::string::npos)
      Violation(r.peer(), "a symlink with an empty target or a NUL in it");
  } else if (!e.link_target.empty()) {
    Violation(r.peer(), "a link target on an entry that is not a symlink");
  }
  if (e.type != FileType::kCharDevice && e.type != FileType::kBlockDevice && e.rdev != 0)
    Violation(r.peer(), "a device number on an entry that is not a device");
  return e;
}

std::string BadPathReason(std::string_view path) {
  if (path.size() > kMaxPath) return "a name longer than " + std::to_string(kMaxPath) + " bytes";
  if (path.find('\0') != std::string_view::npos) return "a name with a NUL byte";
  if (path.front() == '/') return "an absolute name";
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    std::string_view c = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (c.empty()) return "a name with an empty component";
    if (c == "." || c == "..") return "a name with a '" + std::string(c) + "' component";
    if (c.size() > kMaxName) return "a name component longer than " + std::to_string(kMaxName) + " bytes";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return "";
}

namespace {
std::string Quoted(std::string_view s) {
  return "'" + Printable(s, 200) + "'";
}
}  // namespace

void ListChecker::Check(const Entry& e) {
  ++count_;
  if (count_ == 1) {
    if (!e.path.empty() || e.type != FileType::kDirectory)
      Violation(peer_, "the listing does not start with its root folder");
    open_.push_back({"", ""});
    return;
  }
  if (e.path.empty()) Violation(peer_, "a second root entry in the listing");
  if (std::string why = BadPathReason(e.path); !why.empty()) Violation(peer_, why + ": " + Quoted(e.path));
  std::string_view parent = sync::DirName(e.path);
  std::string_view name = sync::BaseName(e.path);
  // Close the folders this entry is not under; its parent must then be the innermost open one.
  while (!open_.empty() && open_.back().path != parent) {
    const std::string& p = open_.back().path;
    bool is_ancestor = p.empty() || (parent.size() > p.size() && parent.substr(0, p.size()) == p && parent[p.size()] == '/');
    if (is_ancestor) break;
    open_.pop_back();
  }
  if (open_.empty() || open_.back().path != parent)
    Violation(peer_, "the entry " + Quoted(e.path) + " is not inside a folder sent before it (out of order, or under a symlink or file)");
  Open& dir = open_.back();
  if (!dir.last_child.empty() && !(std::string_view(dir.last_child) < name))
    Violation(peer_, "the entry " + Quoted(e.path) + " is a duplicate or out of order");
  dir.last_child.assign(name);
  if (e.type == FileType::kDirectory) open_.push_back({e.path, ""});
}

}  // namespace mig::agent
