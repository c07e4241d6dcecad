#include "agent/frame.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig::agent;

namespace {
std::string Header(uint32_t len, uint8_t type, uint8_t flags = 0, uint16_t reserved = 0) {
  std::string h;
  for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  h.push_back(static_cast<char>(type));
  h.push_back(static_cast<char>(flags));
  h.push_back(static_cast<char>(reserved & 0xff));
  h.push_back(static_cast<char>(reserved >> 8));
  return h;
}
}  // namespace

TEST_CASE("frames survive being cut anywhere on the way", "[agent]") {
  std::string big(300000, 'a');  // compresses
  std::string stream = EncodeFrame(Type::kData, big, true) + EncodeFrame(Type::kBye, "") +
                       EncodeFrame(Type::kList, "xyz");
  for (size_t cut : {size_t(1), size_t(7), size_t(8), size_t(1000), stream.size()}) {
    FrameDecoder d("test");
    std::vector<Frame> got;
    for (size_t i = 0; i < stream.size(); i += cut) {
      d.Feed(std::string_view(stream).substr(i, cut));
      while (auto f = d.Next()) got.push_back(*f);
    }
    REQUIRE(got.size() == 3);
    CHECK(got[0].type == Type::kData);
    CHECK(got[0].payload == big);
    CHECK(got[1].type == Type::kBye);
    CHECK(got[2].payload == "xyz");
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("compression is used only when it makes the frame smaller", "[agent]") {
  std::string random = "\x01\x9f\x33\xe0\x44\x12\x00\xff\x7a\x5c";
  CHECK(EncodeFrame(Type::kData, random, true)[5] == 0);
  CHECK(EncodeFrame(Type::kData, std::string(1000, 'z'), true)[5] == kFlagZstd);
}

TEST_CASE("the decoder refuses oversize, unknown and reserved headers before reading a payload", "[agent]") {
  auto refuse = [](const std::string& bytes, const char* why) {
    FrameDecoder d("the agent on old");
    d.Feed(bytes);
    REQUIRE_THROWS_WITH(d.Next(), Catch::Contains("protocol error from the agent on old") && Catch::Contains(why));
  };
  refuse(Header(kMaxFrame + 1, 9), "a frame of 1048577 bytes");
  refuse(Header(0xffffffff, 9), "at most 1048576");
  refuse(Header(0, 0), "unknown frame type 0");
  refuse(Header(0, 200), "unknown frame type 200");
  refuse(Header(0, 9, 2), "reserved header bits");
  refuse(Header(0, 9, 0, 1), "reserved header bits");
}

TEST_CASE("a compressed payload must declare a bounded size and be exactly one zstd frame", "[agent]") {
  std::string ok = EncodeFrame(Type::kData, std::string(5000, 'q'), true);
  REQUIRE(ok[5] == kFlagZstd);
  std::string z = ok.substr(kHeaderSize);
  auto refuse = [](const std::string& payload, const char* why) {
    FrameDecoder d("peer");
    d.Feed(Header(static_cast<uint32_t>(payload.size()), 9, kFlagZstd) + payload);
    REQUIRE_THROWS_WITH(d.Next(), Catch::Contains(why));
  };
  refuse(z + "junk", "not exactly one zstd frame");
  refuse("garbage that is no zstd frame", "not exactly one zstd frame");
  std::string corrupt = z;
  corrupt[corrupt.size() / 2] ^= 0x55;
  FrameDecoder d("peer");
  d.Feed(Header(static_cast<uint32_t>(corrupt.size()), 9, kFlagZstd) + corrupt);
  CHECK_THROWS_AS(d.Next(), mig::Error);
}

TEST_CASE("a payload reader never reads past the end and rejects leftovers", "[agent]") {
  PayloadWriter w;
  w.U32(7).Str("name").U8(1);
  PayloadReader r(w.data(), "peer");
  CHECK(r.U32() == 7);
  CHECK(r.Str(10) == "name");
  CHECK_THROWS_WITH(PayloadReader(std::string_view(w.data()).substr(0, 3), "peer").U32(), Catch::Contains("ends in the middle"));
  PayloadReader r2(w.data(), "peer");
  r2.U32();
  CHECK_THROWS_WITH(r2.Str(3), Catch::Contains("a string of 4 bytes (at most 3)"));
  r.U8();
  CHECK_NOTHROW(r.Done("T"));
  PayloadReader r3(w.data(), "peer");
  r3.U32();
  CHECK_THROWS_WITH(r3.Done("T"), Catch::Contains("unexpected bytes after a T message"));
}

TEST_CASE("AppendFrame says whether compressing paid, and both kinds decode with one decoder", "[agent]") {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i % 50) + "\n";
  std::string noise(200000, '\0');
  uint64_t x = 88172645463325252ull;  // xorshift: bytes zstd cannot squeeze
  for (char& c : noise) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  std::string stream;
  CHECK(AppendFrame(stream, Type::kData, text, true));
  const size_t after_text = stream.size();
  CHECK(after_text < text.size() / 4);
  CHECK_FALSE(AppendFrame(stream, Type::kData, noise, true));
  CHECK(stream.size() - after_text == 8 + noise.size());  // sent as it is: flag clear
  CHECK_FALSE(AppendFrame(stream, Type::kData, text, false));
  FrameDecoder d("test");
  d.Feed(stream);
  std::vector<std::string> got;
  while (auto f = d.Next()) got.push_back(f->payload);
  REQUIRE(got.size() == 3);
  CHECK(got[0] == text);
  CHECK(got[1] == noise);
  CHECK(got[2] == text);
}
