#include "agent/frame.h"

#include <zstd.h>

#include <cstring>
#include <memory>

#include "core/error.h"

namespace mig::agent {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kHello: return "HELLO";
    case Type::kError: return "ERROR";
    case Type::kList: return "LIST";
    case Type::kEntries: return "ENTRIES";
    case Type::kListEnd: return "LIST_END";
    case Type::kGet: return "GET";
    case Type::kSig: return "SIG";
    case Type::kFile: return "FILE";
    case Type::kData: return "DATA";
    case Type::kFileEnd: return "FILE_END";
    case Type::kFileFail: return "FILE_FAIL";
    case Type::kBye: return "BYE";
    case Type::kRun: return "RUN";
    case Type::kRunEnd: return "RUN_END";
  }
  return "?";
}

void Violation(std::string_view peer, const std::string& what) {
  Fail("protocol error from " + std::string(peer) + ": " + what);
}

namespace {

template <typename T>
void PutLE(std::string& b, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <typename T>
T GetLE(std::string_view s) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<T>(static_cast<uint8_t>(s[i])) << (8 * i);
  return v;
}

}  // namespace

PayloadWriter& PayloadWriter::U8(uint8_t v) { buf_.push_back(static_cast<char>(v)); return *this; }
PayloadWriter& PayloadWriter::U16(uint16_t v) { PutLE(buf_, v); return *this; }
PayloadWriter& PayloadWriter::U32(uint32_t v) { PutLE(buf_, v); return *this; }
PayloadWriter& PayloadWriter::U64(uint64_t v) { PutLE(buf_, v); return *this; }
PayloadWriter& PayloadWriter::Str(std::string_view s) {
  U16(static_cast<uint16_t>(s.size()));
  buf_.append(s);
  return *this;
}
PayloadWriter& PayloadWriter::LStr(std::string_view s) {
  U32(static_cast<uint32_t>(s.size()));
  buf_.append(s);
  return *this;
}
PayloadWriter& PayloadWriter::Raw(std::string_view s) { buf_.append(s); return *this; }

std::string_view PayloadReader::Take(size_t n) {
  if (n > left()) Violation(peer_, "a message ends in the middle of a field");
  std::string_view r = p_.substr(pos_, n);
  pos_ += n;
  return r;
}
uint8_t PayloadReader::U8() { return static_cast<uint8_t>(Take(1)[0]); }
uint16_t PayloadReader::U16() { return GetLE<uint16_t>(Take(2)); }
uint32_t PayloadReader::U32() { return GetLE<uint32_t>(Take(4)); }
uint64_t PayloadReader::U64() { return GetLE<uint64_t>(Take(8)); }
std::string_view PayloadReader::Str(size_t max_len) {
  uint16_t n = U16();
  if (n > max_len) Violation(peer_, "a string of " + std::to_string(n) + " bytes (at most " + std::to_string(max_len) + ")");
  return Take(n);
}
std::string_view PayloadReader::LStr(size_t max_len) {
  uint32_t n = U32();
  if (n > max_len) Violation(peer_, "a string of " + std::to_string(n) + " bytes (at most " + std::to_string(max_len) + ")");
  return Take(n);
}
std::string_view PayloadReader::Raw(size_t n) { return Take(n); }
std::string_view PayloadReader::Rest() { return Take(left()); }
void PayloadReader::Done(const char* what) {
  if (left() != 0) Violation(peer_, std::to_string(left()) + " unexpected bytes after a " + what + " message");
}

bool AppendFrame(std::string& out, Type type, std::string_view payload, bool compress) {
  // One compression context and output buffer per thread, reused: zstd's one-shot call would
  // build and clear a context for every frame.
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(nullptr, ZSTD_freeCCtx);
  thread_local std::string z;
  uint8_t flags = 0;
  bool worth = false;
  if (compress && payload.size() > 64) {
    if (!cctx) cctx.reset(ZSTD_createCCtx());
    const size_t bound = ZSTD_compressBound(payload.size());
    if (z.size() < bound) z.resize(bound);
    size_t n = cctx ? ZSTD_compressCCtx(cctx.get(), z.data(), bound, payload.data(), payload.size(), 1) : 0;
    if (cctx && !ZSTD_isError(n) && n < payload.size()) {
      worth = n <= payload.size() - payload.size() / 32;
      payload = std::string_view(z.data(), n);
      flags = kFlagZstd;
    }
  }
  out.reserve(out.size() + kHeaderSize + payload.size());
  PutLE(out, static_cast<uint32_t>(payload.size()));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  PutLE(out, static_cast<uint16_t>(0));
  out.append(payload);
  return worth;
}

std::string EncodeFrame(Type type, std::string_view payload, bool compress) {
  std::string out;
  AppendFrame(out, type, payload, compress);
  return out;
}

void FrameDecoder::Feed(std::string_view bytes) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > (1u << 20)) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

std::optional<Frame> FrameDecoder::Next() {
  std::string_view b(buf_);
  b.remove_prefix(pos_);
  if (b.size() < kHeaderSize) return std::nullopt;
  uint32_t len = GetLE<uint32_t>(b);
  uint8_t type = static_cast<uint8_t>(b[4]);
  uint8_t flags = static_cast<uint8_t>(b[5]);
  uint16_t reserved = GetLE<uint16_t>(b.substr(6));
  if (len > kMaxFrame)
    Violation(peer_, "a frame of " + std::to_string(len) + " bytes (at most " + std::to_string(kMaxFrame) + ")");
  if (type == 0 || type > kLastType) Violation(peer_, "unknown frame type " + std::to_string(type));
  if ((flags & ~kFlagZstd) != 0 || reserved != 0) Violation(peer_, "reserved header bits set");
  if (b.size() < kHeaderSize + len) return std::nullopt;
  std::string_view payload = b.substr(kHeaderSize, len);
  Frame f;
  f.type = static_cast<Type>(type);
  if (flags & kFlagZstd) {
    if (ZSTD_findFrameCompressedSize(payload.data(), payload.size()) != payload.size())
      Violation(peer_, "a compressed payload that is not exactly one zstd frame");
    unsigned long long n = ZSTD_getFrameContentSize(payload.data(), payload.size());
    if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR || n > kMaxFrame)
      Violation(peer_, "a compressed payload without a valid size of at most " + std::to_string(kMaxFrame) + " bytes");
    f.payload.resize(n);
    if (!dctx_) dctx_.reset(ZSTD_createDCtx());
    if (!dctx_) Fail("out of memory for decompressing what " + peer_ + " sends");
    size_t got = ZSTD_decompressDCtx(dctx_.get(), f.payload.data(), n, payload.data(), payload.size());
    if (ZSTD_isError(got) || got != n) Violation(peer_, "a compressed payload that does not decompress");
  } else {
    f.payload.assign(payload);
  }
  pos_ += kHeaderSize + len;
  return f;
}

}  // namespace mig::agent
