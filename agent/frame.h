// The agent protocol's frames (docs/protocol.md): a bounded encoder and decoder, shared by
// migrate (the receiver) and migrate-agent (the sender). The decoder assumes the bytes lie.
#pragma once

#include <zstd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mig::agent {

inline constexpr uint32_t kMagic = 0x4D494752;  // "MIGR"
inline constexpr uint16_t kProtocolVersion = 3;
inline constexpr uint32_t kMaxFrame = 1u << 20;   // payload bytes, after decompression too
inline constexpr uint32_t kMaxChunk = 256u << 10; // raw bytes of one DATA or SIG frame
inline constexpr uint32_t kHeaderSize = 8;
inline constexpr uint8_t kFlagZstd = 1;

enum class Type : uint8_t {
  kHello = 1, kError, kList, kEntries, kListEnd, kGet, kSig, kFile, kData, kFileEnd, kFileFail, kBye,
  kRun, kRunEnd,
};
inline constexpr uint8_t kLastType = static_cast<uint8_t>(Type::kRunEnd);
const char* TypeName(Type t);

// One decoded frame: its type and its payload (decompressed).
struct Frame {
  Type type = Type::kHello;
  std::string payload;
};

// Throws the protocol-violation error: "protocol error from <peer>: <what>".
[[noreturn]] void Violation(std::string_view peer, const std::string& what);

// Builds a payload: little-endian integers, u16- and u32-length-prefixed strings.
class PayloadWriter {
 public:
  PayloadWriter& U8(uint8_t v);
  PayloadWriter& U16(uint16_t v);
  PayloadWriter& U32(uint32_t v);
  PayloadWriter& U64(uint64_t v);
  PayloadWriter& I64(int64_t v) { return U64(static_cast<uint64_t>(v)); }
  PayloadWriter& Str(std::string_view s);   // REQUIRES: s.size() < 65536
  PayloadWriter& LStr(std::string_view s);  // REQUIRES: s fits in a frame
  PayloadWriter& Raw(std::string_view s);
  const std::string& data() const { return buf_; }
  std::string take() { return std::move(buf_); }

 private:
  std::string buf_;
};

// Reads a payload; every read is bounds-checked and a short payload is a violation.
class PayloadReader {
 public:
  PayloadReader(std::string_view payload, std::string_view peer) : p_(payload), peer_(peer) {}
  uint8_t U8();
  uint16_t U16();
  uint32_t U32();
  uint64_t U64();
  int64_t I64() { return static_cast<int64_t>(U64()); }
  std::string_view Str(size_t max_len);   // u16 length, then bytes; longer than max: violation
  std::string_view LStr(size_t max_len);  // u32 length
  std::string_view Raw(size_t n);
  std::string_view Rest();
  size_t left() const { return p_.size() - pos_; }
  // Bytes left over after the last field are a violation.
  void Done(const char* what);
  std::string_view peer() const { return peer_; }

 private:
  std::string_view Take(size_t n);
  std::string_view p_;
  size_t pos_ = 0;
  std::string_view peer_;
};

// Appends header + payload to `out`; with `compress`, the payload travels as one zstd frame
// when that is smaller. Returns whether compressing was worth it (it saved at least 1/32):
// a sender may stop trying on data that does not compress. REQUIRES: payload.size() <= kMaxFrame.
bool AppendFrame(std::string& out, Type type, std::string_view payload, bool compress = false);
// The same, as a string of its own.
std::string EncodeFrame(Type type, std::string_view payload, bool compress = false);

// Cuts a byte stream into frames. Feed() what arrives, then take frames with Next() until it
// returns nothing. Every header field and the decompressed size are checked.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::string peer) : peer_(std::move(peer)) {}
  void Feed(std::string_view bytes);
  std::optional<Frame> Next();
  // Bytes received but not yet a whole frame (0 at a clean end of stream).
  size_t buffered() const { return buf_.size() - pos_; }
  // Those bytes, for telling what a peer that speaks something else said.
  std::string_view pending() const { return std::string_view(buf_).substr(pos_); }
  const std::string& peer() const { return peer_; }

 private:
  std::string peer_;
  std::string buf_;
  size_t pos_ = 0;
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx_{nullptr, ZSTD_freeDCtx};  // reused
};

}  // namespace mig::agent
