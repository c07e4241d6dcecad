// Block sums and deltas, checked against librsync's patch as the oracle: whatever the edit,
// the receiver's copy patched with the agent's delta is the agent's file byte for byte; and the
// receiver's patch job (agent/rsync_job.h) as the receiver drives it.
#include "agent/block_delta.h"

#include <fcntl.h>
#include <librsync.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "agent/rsync_job.h"
#include "core/error.h"

using namespace mig::agent;

namespace {

std::string BdRandom(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

// The SIG payload of `basis`, signed from a real file as the receiver does.
std::string BdSign(const std::string& basis, uint64_t seed = 7) {
  char path[] = "/tmp/block-delta-test.XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::unlink(path);
  REQUIRE(::write(fd, basis.data(), basis.size()) == static_cast<ssize_t>(basis.size()));
  ::lseek(fd, 0, SEEK_SET);
  std::string sig = SignFile(fd, basis.size(), seed, "the basis");
  ::close(fd);
  return sig;
}

// The delta of `changed` against `basis`, read `step` bytes at a time.
std::string BdDelta(const std::string& basis, const std::string& changed, size_t step = 1 << 20) {
  const BlockSums sums = DecodeBlockSums(BdSign(basis), "test");
  size_t pos = 0;
  std::string out;
  bool ok = WriteDelta(
      sums,
      [&](char* buf, size_t len) -> long {
        size_t n = std::min({len, step, changed.size() - pos});
        std::memcpy(buf, changed.data() + pos, n);
        pos += n;
        return static_cast<long>(n);
      },
      [&](std::string_view b) { out.append(b); });
  REQUIRE(ok);
  return out;
}

rs_result BdCopyFrom(void* arg, rs_long_t pos, size_t* len, void** buf) {
  auto* basis = static_cast<const std::string*>(arg);
  if (pos < 0 || static_cast<size_t>(pos) > basis->size() || *len > basis->size() - static_cast<size_t>(pos))
    return RS_CORRUPT;
  std::memcpy(*buf, basis->data() + pos, *len);
  return RS_DONE;
}

// librsync's patch of `basis` with `delta`.
std::string BdPatch(const std::string& basis, const std::string& delta) {
  RsyncJob patch(rs_patch_begin(BdCopyFrom, const_cast<std::string*>(&basis)), "the patch");
  std::string out;
  size_t unused = 99;
  REQUIRE(patch.Push(delta, /*eof=*/false, [&](std::string_view b) { out.append(b); }, &unused) == RS_DONE);
  CHECK(unused == 0);
  return out;
}

// The delta's literal bytes, read from its commands (what crosses the wire beside commands).
size_t BdLiteralBytes(const std::string& d) {
  size_t i = 4, lit = 0;
  auto big = [&](int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v = v << 8 | static_cast<unsigned char>(d[i++]);
    return v;
  };
  while (i < d.size()) {
    const unsigned op = static_cast<unsigned char>(d[i++]);
    if (op == 0) break;
    if (op <= 0x40) { lit += op; i += op; continue; }
    if (op <= 0x44) { size_t n = big(1 << (op - 0x41)); lit += n; i += n; continue; }
    const unsigned k = op - 0x45;
    big(1 << (k / 4));
    big(1 << (k % 4));
  }
  return lit;
}

}  // namespace

TEST_CASE("block delta: every kind of edit patches back to the agent's file") {
  const std::string basis = BdRandom(3 << 20, 1);  // 3 MiB: blocks of 1792 bytes
  struct Case {
    const char* name;
    std::string changed;
    size_t max_literal;  // bytes that need not travel as literal beyond this
  };
  auto with = [&](auto edit) {
    std::string c = basis;
    edit(c);
    return c;
  };
  const size_t B = BlockLenFor(basis.size());
  std::vector<Case> cases = {
      {"unchanged", basis, 0},
      {"overwritten in the middle", with([](std::string& c) { c.replace(1000000, 65536, BdRandom(65536, 2)); }),
       65536 + 2 * B},
      {"one byte inserted", with([](std::string& c) { c.insert(12345, "x"); }), 2 * B},
      {"bytes deleted", with([](std::string& c) { c.erase(2000000, 300); }), 2 * B},
      {"appended", with([](std::string& c) { c += BdRandom(5000, 3); }), 5000 + B},
      {"truncated", with([](std::string& c) { c.resize(c.size() - 777); }), B},
      // 3 MiB in blocks of 1792: 1755 full ones and a last one of 768 bytes, which still
      // matches where it ends when the block before it changed.
      {"the last full block changed", with([&](std::string& c) { c[(c.size() / B - 1) * B + 10] ^= 1; }), B},
      {"a shift and an overwrite", with([](std::string& c) {
         c.insert(100, BdRandom(10, 4));
         c.replace(2500000, 4000, BdRandom(4000, 5));
       }), 4000 + 4 * B},
      {"all new", BdRandom(3 << 20, 9), 3u << 20},
      {"empty", std::string(), 0},
  };
  for (const Case& k : cases) {
    SECTION(k.name) {
      for (size_t step : {size_t{1} << 20, size_t{4093}}) {
        const std::string d = BdDelta(basis, k.changed, step);
        CHECK(BdPatch(basis, d) == k.changed);
        CHECK(BdLiteralBytes(d) <= k.max_literal);
      }
    }
  }
}

TEST_CASE("block delta: small, empty and repetitive files") {
  for (size_t n : {size_t{0}, size_t{1}, size_t{1023}, size_t{1024}, size_t{1025}, size_t{70000}}) {
    const std::string a = BdRandom(n, 11), b = BdRandom(n + 3, 12);
    CHECK(BdPatch(a, BdDelta(a, a)) == a);
    CHECK(BdPatch(a, BdDelta(a, b)) == b);
    CHECK(BdPatch(b, BdDelta(b, a)) == a);
  }
  // The bench's large files: a 1 MiB period repeated with 64 random bytes each (many blocks
  // alike), 1 MiB overwritten in the middle, as bench/gendata.py --touch does.
  std::string period = BdRandom(1 << 20, 20), basis;
  for (int i = 0; i < 8; ++i) basis += BdRandom(64, 30 + i) + period.substr(64);
  std::string changed = basis;
  changed.replace(4 << 20, 1 << 20, BdRandom(1 << 20, 40));
  const std::string d = BdDelta(basis, changed);
  CHECK(BdPatch(basis, d) == changed);
  CHECK(BdLiteralBytes(d) <= (1u << 20) + 2 * BlockLenFor(basis.size()));
  const std::string zeros(1 << 20, '\0');
  std::string holes = zeros;
  holes.replace(300000, 10, "0123456789");
  CHECK(BdPatch(zeros, BdDelta(zeros, holes)) == holes);
}

TEST_CASE("block delta: block lengths and the sums' wire checks") {
  CHECK(BlockLenFor(0) == kMinBlock);
  CHECK(BlockLenFor(256ull << 20) == 16384);
  CHECK(BlockLenFor(1ull << 38) == kUsualMaxBlock);
  CHECK(BlockLenFor(1ull << 44) > kUsualMaxBlock);  // 16 TiB: at most kMaxBlocks blocks
  CHECK((1ull << 44) / BlockLenFor(1ull << 44) <= kMaxBlocks);
  CHECK(BlockLenFor(12345678) % 64 == 0);
  // rsync's sum: s1 = 1 + 2, s2 = 1 + (1 + 2). (The rolled sums are checked by the deltas of
  // shifted content above: without them every block after the shift would travel.)
  const unsigned char two[] = {1, 2};
  CHECK(WeakSum(two, 2) == (3u | 4u << 16));
  // The 16-bytes-at-a-time sum against the plain loop, at every length and alignment.
  const std::string r = BdRandom(5000, 52);
  for (size_t off : {0, 1, 7}) {
    for (size_t len : {0, 1, 15, 16, 17, 31, 100, 1024, 4093}) {
      const auto* p = reinterpret_cast<const unsigned char*>(r.data()) + off;
      uint32_t s1 = 0, s2 = 0;
      for (size_t i = 0; i < len; ++i) {
        s1 += p[i];
        s2 += s1;
      }
      CHECK(WeakSum(p, len) == ((s1 & 0xffff) | (s2 << 16)));
    }
  }
  const std::string ff(70000, '\xff');  // the largest sums: no lane overflows wrongly
  uint32_t s1 = 0, s2 = 0;
  for (unsigned char c : ff) {
    s1 += c;
    s2 += s1;
  }
  CHECK(WeakSum(reinterpret_cast<const unsigned char*>(ff.data()), ff.size()) == ((s1 & 0xffff) | (s2 << 16)));

  const std::string sig = BdSign(BdRandom(5000, 51));
  CHECK(sig.size() == kSumsHeaderBytes + 5 * kSumsEntryBytes);  // 5000 bytes: blocks of 1024
  CHECK_NOTHROW(DecodeBlockSums(sig, "peer"));
  CHECK_THROWS_WITH(DecodeBlockSums(sig.substr(0, sig.size() - 1), "peer"), Catch::Contains("does not match"));
  CHECK_THROWS_WITH(DecodeBlockSums(sig + "x", "peer"), Catch::Contains("does not match"));
  std::string bad = sig;
  bad[0] = 'X';
  CHECK_THROWS_WITH(DecodeBlockSums(bad, "peer"), Catch::Contains("magic"));
  bad = sig;
  bad[4] = bad[5] = bad[6] = bad[7] = '\0';  // a block length of 0
  CHECK_THROWS_WITH(DecodeBlockSums(bad, "peer"), Catch::Contains("block length"));
  // A huge size claimed with few entries: refused before anything is allocated for it.
  bad = sig;
  for (int i = 16; i < 24; ++i) bad[i] = '\x7f';
  CHECK_THROWS_WITH(DecodeBlockSums(bad, "peer"), Catch::Contains("does not match"));
  // A different seed: other strong sums for the same content.
  CHECK(BdSign("abcdefgh", 1) != BdSign("abcdefgh", 2));
}

TEST_CASE("block delta: a failed read stops the delta") {
  const BlockSums sums = DecodeBlockSums(BdSign(BdRandom(100000, 60)), "test");
  int calls = 0;
  std::string out;
  CHECK_FALSE(WriteDelta(
      sums, [&](char* buf, size_t len) -> long { return ++calls == 1 ? static_cast<long>(std::min<size_t>(len, 10)) : -1; },
      [&](std::string_view b) { out.append(b); }));
}

// The receiver's patch job (agent/rsync_job.h) as the receiver drives it.
TEST_CASE("rsync job: a delta pushed in frames of odd sizes, never with eof, patches in bounded chunks") {
  const std::string basis = BdRandom(3 << 20, 70);
  std::string changed = basis;
  changed.replace(100000, 5000, BdRandom(7000, 71));  // a change that shifts what follows
  changed.erase(2000000, 300);
  changed += BdRandom(50000, 72);
  const std::string delta = BdDelta(basis, changed);
  CHECK(delta.size() < 100000);  // mostly copies from the basis
  RsyncJob patch(rs_patch_begin(BdCopyFrom, const_cast<std::string*>(&basis)), "the copy", 8192);
  std::string out;
  rs_result r = RS_BLOCKED;
  size_t unused = 99;
  for (size_t off = 0; off < delta.size() && r == RS_BLOCKED; off += 777)
    r = patch.Push(std::string_view(delta).substr(off, 777), false,
                   [&](std::string_view b) {
                     if (b.empty() || b.size() > 8192) FAIL_CHECK("a chunk of " << b.size() << " bytes");
                     out.append(b);
                   },
                   &unused);
  REQUIRE(r == RS_DONE);
  CHECK(unused == 0);
  CHECK(out == changed);
}

TEST_CASE("rsync job: bytes past the end of a delta are counted, not taken") {
  const std::string basis = BdRandom(200000, 73);
  const std::string delta = BdDelta(basis, basis);
  RsyncJob patch(rs_patch_begin(BdCopyFrom, const_cast<std::string*>(&basis)), "the copy");
  std::string out;
  size_t unused = 0;
  CHECK(patch.Push(delta + "trailing", false, [&](std::string_view b) { out.append(b); }, &unused) == RS_DONE);
  CHECK(unused == 8);
  CHECK(out == basis);
}

TEST_CASE("rsync job: a delta cut short waits for more, and fails at the end of input") {
  const std::string basis = BdRandom(200000, 74);
  const std::string delta = BdDelta(basis, BdRandom(100000, 75));
  const std::string cut = delta.substr(0, delta.size() / 2);
  std::string out;
  auto into = [&](std::string_view b) { out.append(b); };
  {
    RsyncJob patch(rs_patch_begin(BdCopyFrom, const_cast<std::string*>(&basis)), "the copy");
    CHECK(patch.Push(cut, false, into) == RS_BLOCKED);
  }
  RsyncJob patch(rs_patch_begin(BdCopyFrom, const_cast<std::string*>(&basis)), "the copy");
  rs_result r = patch.Push(cut, true, into);
  CHECK(r != RS_DONE);
  CHECK(r != RS_BLOCKED);
  CHECK_THAT(patch.Failure(r), Catch::StartsWith("librsync failed on the copy: "));
}
