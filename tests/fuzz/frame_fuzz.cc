// libFuzzer target: the receiver's decoding of whatever an agent sends (frames, then each
// message as the receiver would read it). Any input must end in a clean mig::Error or a value;
// a crash, a sanitizer report or an uncaught exception is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/frame.h"
#include "agent/wire.h"
#include "core/error.h"

using namespace mig::agent;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  FrameDecoder dec("fuzz");
  ListChecker list("fuzz");
  try {
    // Feed in two pieces, as a stream arrives.
    dec.Feed(in.substr(0, size / 2));
    while (auto f = dec.Next()) {}
    dec.Feed(in.substr(size / 2));
    while (auto f = dec.Next()) {
      switch (f->type) {
        case Type::kHello: DecodeHello(f->payload, "fuzz"); break;
        case Type::kGet: DecodeGet(f->payload, "fuzz"); break;
        case Type::kFile: DecodeFileBegin(f->payload, "fuzz"); break;
        case Type::kFileEnd: DecodeFileEnd(f->payload, "fuzz"); break;
        case Type::kList: DecodeList(f->payload, "fuzz"); break;
        case Type::kRun: DecodeRun(f->payload, "fuzz"); break;
        case Type::kRunEnd: DecodeRunEnd(f->payload, "fuzz"); break;
        case Type::kListEnd: DecodeListEnd(f->payload, "fuzz"); break;
        case Type::kEntries: {
          PayloadReader r(f->payload, "fuzz");
          uint32_t n = r.U32();
          for (uint32_t i = 0; i < n && i < 100000; ++i) list.Check(DecodeEntry(r));
          r.Done("ENTRIES");
          break;
        }
        case Type::kFileFail: DecodeFileFail(f->payload, "fuzz"); break;
        case Type::kError: {
          PayloadReader r(f->payload, "fuzz");
          r.U8();
          r.LStr(kMaxMessage);
          break;
        }
        default: break;
      }
    }
  } catch (const mig::Error&) {
  }
  return 0;
}
