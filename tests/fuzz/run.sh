#!/usr/bin/env bash
# Builds the frame decoder's fuzz target with clang (libFuzzer, AddressSanitizer, UBSan) and
# runs it for FUZZ_SECONDS (default 60) from a seed corpus of valid frames. CI runs this
# bounded; run it longer by hand: FUZZ_SECONDS=3600 tests/fuzz/run.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_DIR:-/tmp/migrate-fuzz}
secs=${FUZZ_SECONDS:-60}
mkdir -p "$out/corpus"
clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$src" -DMIGRATE_VERSION='"fuzz"' \
  "$src/tests/fuzz/frame_fuzz.cc" "$src/agent/frame.cc" "$src/agent/wire.cc" "$src/sync/entry.cc" \
  "$src/core/error.cc" -lzstd -o "$out/frame_fuzz"
# Seeds: a few valid streams, so the fuzzer starts inside the message decoders.
python3 - "$out/corpus" <<'PY'
import struct, sys, os
d = sys.argv[1]
def frame(t, p, flags=0): return struct.pack("<IBBH", len(p), t, flags, 0) + p
def s(b): return struct.pack("<H", len(b)) + b
def entry(path, typ, mode, size=0, link=b""):
    return s(path) + struct.pack("<BIIIQqIQ", typ, mode, 0, 0, size, 1700000000, 5, 0) + struct.pack("<I", len(link)) + link
hello = frame(1, struct.pack("<IH", 0x4D494752, 1) + s(b"0.1.0") + s(b"x86_64"))
ents = [entry(b"", 1, 0o755), entry(b"a", 1, 0o755), entry(b"a/f", 0, 0o644, 3), entry(b"l", 2, 0o777, 0, b"/etc")]
listing = frame(4, struct.pack("<I", len(ents)) + b"".join(ents)) + frame(5, struct.pack("<Q", len(ents)))
fileans = frame(8, struct.pack("<IB", 2, 0)) + frame(9, b"abc") + frame(10, struct.pack("<IQQQqIB", 2, 3, 1, 2, 1700000000, 5, 0))
for name, data in [("hello", hello), ("listing", hello + listing), ("file", fileans),
                   ("error", frame(2, b"\x00" + struct.pack("<I", 4) + b"oops"))]:
    open(os.path.join(d, name), "wb").write(data)
PY
"$out/frame_fuzz" -max_total_time="$secs" -max_len=70000 -print_final_stats=1 "$out/corpus" 2>&1 | tail -15
