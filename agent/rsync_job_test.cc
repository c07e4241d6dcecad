// The librsync job loop: signature, delta and patch of buffers in memory, pushed and pulled.
#include "agent/rsync_job.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace mig::agent;

namespace {

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

// A Reader over `data`, at most `step` bytes a read.
RsyncJob::Reader ReaderOf(const std::string& data, size_t step = SIZE_MAX) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, pos, step](char* buf, size_t len) -> long {
    size_t n = std::min({len, step, data.size() - *pos});
    std::memcpy(buf, data.data() + *pos, n);
    *pos += n;
    return static_cast<long>(n);
  };
}

// A Sink that appends to `out` and checks the chunk bound.
RsyncJob::Sink Into(std::string& out, size_t chunk = kRsyncChunk) {
  return [&out, chunk](std::string_view b) {
    if (b.empty() || b.size() > chunk) FAIL_CHECK("a chunk of " << b.size() << " bytes (at most " << chunk << ")");
    out.append(b);
  };
}

std::string SignatureOf(const std::string& basis) {
  rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
  size_t block_len = 0, strong_len = 0;
  REQUIRE(rs_sig_args(static_cast<rs_long_t>(basis.size()), &magic, &block_len, &strong_len) == RS_DONE);
  RsyncJob job(rs_sig_begin(block_len, strong_len, magic), "the basis");
  std::string sig;
  REQUIRE(job.Pull(ReaderOf(basis, 1000), Into(sig)) == RS_DONE);
  return sig;
}

// The delta of `changed` against the signature `sig`, in output chunks of `chunk` bytes.
std::string DeltaOf(const std::string& sig, const std::string& changed, size_t chunk) {
  rs_signature_t* sumset = nullptr;
  RsyncJob load(rs_loadsig_begin(&sumset), "the signature");
  std::string none;
  rs_result r = load.Push(sig, /*eof=*/true, Into(none));
  std::unique_ptr<rs_signature_t, decltype(&rs_free_sumset)> hold(sumset, rs_free_sumset);
  REQUIRE(r == RS_DONE);
  CHECK(none.empty());
  REQUIRE(rs_build_hash_table(sumset) == RS_DONE);
  RsyncJob delta(rs_delta_begin(sumset), "changed", chunk);
  std::string out;
  REQUIRE(delta.Pull(ReaderOf(changed), Into(out, chunk)) == RS_DONE);
  return out;
}

rs_result CopyFrom(void* arg, rs_long_t pos, size_t* len, void** buf) {
  auto* basis = static_cast<const std::string*>(arg);
  if (pos < 0 || static_cast<size_t>(pos) > basis->size()) return RS_CORRUPT;
  *len = std::min(*len, basis->size() - static_cast<size_t>(pos));
  std::memcpy(*buf, basis->data() + pos, *len);
  return RS_DONE;
}

}  // namespace

TEST_CASE("rsync job: the patch of a delta against a signature reproduces the changed copy byte for byte") {
  const std::string basis = Random(3 << 20, 1);
  std::string changed = basis;
  changed.replace(100000, 5000, Random(7000, 2));  // a change that shifts what follows
  changed.erase(2000000, 300);
  changed += Random(50000, 3);

  const std::string sig = SignatureOf(basis);
  CHECK(!sig.empty());
  CHECK(sig.size() < basis.size() / 40);
  const std::string delta = DeltaOf(sig, changed, 4096);
  CHECK(delta.size() < 100000);  // mostly copies from the basis

  // The delta pushed as it would arrive, in frames of odd sizes, never with eof.
  RsyncJob patch(rs_patch_begin(CopyFrom, const_cast<std::string*>(&basis)), "the copy", 8192);
  std::string out;
  rs_result r = RS_BLOCKED;
  size_t unused = 99;
  for (size_t off = 0; off < delta.size() && r == RS_BLOCKED; off += 777)
    r = patch.Push(std::string_view(delta).substr(off, 777), false, Into(out, 8192), &unused);
  REQUIRE(r == RS_DONE);
  CHECK(unused == 0);
  CHECK(out.size() == changed.size());
  CHECK(out == changed);
}

TEST_CASE("rsync job: bytes past the end of a delta are counted, not taken") {
  const std::string basis = Random(200000, 4);
  const std::string delta = DeltaOf(SignatureOf(basis), basis, kRsyncChunk);
  RsyncJob patch(rs_patch_begin(CopyFrom, const_cast<std::string*>(&basis)), "the copy");
  std::string out;
  size_t unused = 0;
  CHECK(patch.Push(delta + "trailing", false, Into(out), &unused) == RS_DONE);
  CHECK(unused == 8);
  CHECK(out == basis);
}

TEST_CASE("rsync job: a delta cut short waits for more, and fails at the end of input") {
  const std::string basis = Random(200000, 5);
  const std::string delta = DeltaOf(SignatureOf(basis), Random(100000, 6), kRsyncChunk);
  const std::string cut = delta.substr(0, delta.size() / 2);
  {
    RsyncJob patch(rs_patch_begin(CopyFrom, const_cast<std::string*>(&basis)), "the copy");
    std::string out;
    CHECK(patch.Push(cut, false, Into(out)) == RS_BLOCKED);
  }
  RsyncJob patch(rs_patch_begin(CopyFrom, const_cast<std::string*>(&basis)), "the copy");
  std::string out;
  rs_result r = patch.Push(cut, true, Into(out));
  CHECK(r != RS_DONE);
  CHECK(r != RS_BLOCKED);
  CHECK_THAT(patch.Failure(r), Catch::StartsWith("librsync failed on the copy: "));
}

TEST_CASE("rsync job: a signature librsync cannot read is an error, and a failed read stops the job") {
  rs_signature_t* sumset = nullptr;
  RsyncJob load(rs_loadsig_begin(&sumset), "the signature");
  std::string none;
  rs_result r = load.Push("not a signature at all", true, Into(none));
  if (sumset) rs_free_sumset(sumset);
  CHECK(r != RS_DONE);
  CHECK(r != RS_BLOCKED);

  RsyncJob sig(rs_sig_begin(2048, 32, RS_RK_BLAKE2_SIG_MAGIC), "/srv/x");
  std::string out;
  int reads = 0;
  CHECK(sig.Pull([&](char*, size_t) -> long { return ++reads == 1 ? -1 : 0; }, Into(out)) == RS_IO_ERROR);
  CHECK(reads == 1);
}
