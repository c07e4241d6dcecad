// The delta of a file against the receiver's older copy (docs/protocol.md "Block sums and
// deltas"): the receiver sends the block sums of its copy (a rolling weak sum and a seeded
// XXH3-128 per block), the agent finds those blocks in its file and writes a librsync delta,
// which the receiver applies with librsync's patch (agent/source.cc). The rsync algorithm with
// XXH3 as the strong sum and the next block tried first after a match: librsync's signatures
// and deltas hash every byte with BLAKE2 on both sides (57% of a changed-file merge's CPU,
// measured), XXH3 costs a tenth of that.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mig::agent {

// A block's length for a file of `size` bytes: about its square root (as rsync and librsync
// choose) within [kMinBlock, kUsualMaxBlock], longer where the file would have more than
// kMaxBlocks blocks; a multiple of 64, at most kMaxBlock.
inline constexpr uint32_t kMinBlock = 1024;
inline constexpr uint32_t kUsualMaxBlock = 128u << 10;
inline constexpr uint32_t kMaxBlock = 64u << 20;
inline constexpr uint64_t kMaxBlocks = 1u << 22;
uint32_t BlockLenFor(uint64_t size);

// A SIG payload: a header, then an entry per block (docs/protocol.md).
inline constexpr size_t kSumsHeaderBytes = 4 + 4 + 8 + 8;
inline constexpr size_t kSumsEntryBytes = 4 + 16;
inline constexpr uint64_t kMaxSumsBytes = kSumsHeaderBytes + kMaxBlocks * kSumsEntryBytes;

// rsync's rolling checksum of `len` bytes: s1 = sum of the bytes, s2 = sum of the running s1,
// each mod 2^16; the value is s1 | s2 << 16.
uint32_t WeakSum(const unsigned char* p, size_t len);

struct Strong {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Strong&) const = default;
};

// The block sums of the receiver's copy, as decoded by the agent.
struct BlockSums {
  uint32_t block_len = 0;
  uint64_t seed = 0;       // of every block's XXH3-128, chosen by the receiver per file
  uint64_t basis_size = 0; // the copy's size: its last block may be shorter than block_len
  std::vector<uint32_t> weak;
  std::vector<Strong> strong;
  uint64_t BlockCount() const { return weak.size(); }
  uint32_t LenOf(uint64_t block) const;
};

// Signs the open file `fd` of `size` bytes from its start: the SIG payload (wire format in
// docs/protocol.md). `seed` keys the strong sums (a fresh random one per file, so that content
// made to collide cannot be planted). Throws mig::Error naming `what` when reading fails.
std::string SignFile(int fd, uint64_t size, uint64_t seed, const std::string& what);

// Decodes and checks a SIG payload; a payload that does not add up is a protocol violation
// from `peer` (mig::agent::Violation).
BlockSums DecodeBlockSums(std::string_view payload, std::string_view peer);

// Computes the delta of a stream against `sums` in librsync's delta format (magic, COPY and
// LITERAL commands, END), handing it on in pieces of at most about 1 MiB. `read` fills up to
// `len` bytes of `buf` and returns their count, 0 at the end, -1 on failure (the caller keeps
// why): WriteDelta then returns false with nothing more written. Memory beside the sums: a
// table of 4 to 8 bytes a block, and a buffer of about 1 MiB + 3 blocks (a file's sums at
// most 80 MiB, its table 32 MiB, its buffer 190 MiB for the longest blocks).
// Not thread-safe (one call, one stream).
using DeltaReader = std::function<long(char* buf, size_t len)>;
using DeltaSink = std::function<void(std::string_view bytes)>;
bool WriteDelta(const BlockSums& sums, const DeltaReader& read, const DeltaSink& out);

}  // namespace mig::agent
