// CRC-32C (Castagnoli) as postgres computes it for its backup manifests.
#pragma once

#include <boost/crc.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mig::db {

// CRC-32C over what Update() is given, in order: the CPU's crc32 instruction where it has one
// (SSE 4.2), else boost's table. Not thread-safe.
class Crc32c {
 public:
  // `hardware`: false forces boost's table (tests compare the two).
  explicit Crc32c(bool hardware = HardwareAvailable()) : hardware_(hardware) {}
  void Update(const void* p, size_t n);
  uint32_t Final() const { return hardware_ ? state_ ^ 0xFFFFFFFFu : soft_.checksum(); }
  // As the manifest writes it: the four bytes of the value in memory order (little-endian), hex.
  std::string Hex() const;
  static bool HardwareAvailable();

 private:
  bool hardware_;
  uint32_t state_ = 0xFFFFFFFFu;  // the instruction's register, inverted only by Final()
  boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true> soft_;
};

// `n` bytes as lowercase hex.
std::string HexBytes(const unsigned char* p, size_t n);

}  // namespace mig::db
