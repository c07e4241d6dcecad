#include "agent/wire.h"

#include <catch2/catch.hpp>

#include "core/error.h"

using namespace mig::agent;
using mig::sync::Entry;
using mig::sync::FileType;

namespace {
Entry E(std::string path, FileType t = FileType::kRegular) {
  Entry e;
  e.path = std::move(path);
  e.type = t;
  e.mode = t == FileType::kDirectory ? 0755 : 0644;
  if (t == FileType::kSymlink) e.link_target = "/etc";
  return e;
}
Entry D(std::string path) { return E(std::move(path), FileType::kDirectory); }

// Checks the listing; returns "" or the violation.
std::string Listing(const std::vector<Entry>& es) {
  ListChecker c("agent");
  try {
    for (const Entry& e : es) c.Check(e);
  } catch (const mig::Error& err) {
    return err.what();
  }
  return "";
}
}  // namespace

TEST_CASE("an entry travels with every attribute", "[agent]") {
  Entry e = E("a/b", FileType::kSymlink);
  e.mode = 0777;
  e.uid = 1000;
  e.gid = 33;
  e.mtime_sec = -5;
  e.mtime_nsec = 999999999;
  PayloadWriter w;
  EncodeEntry(e, w);
  CHECK(w.data().size() == EncodedEntrySize(e));
  PayloadReader r(w.data(), "agent");
  Entry back = DecodeEntry(r);
  CHECK(back.path == e.path);
  CHECK(back.type == e.type);
  CHECK(back.mode == e.mode);
  CHECK(back.uid == 1000);
  CHECK(back.gid == 33);
  CHECK(back.mtime_sec == -5);
  CHECK(back.mtime_nsec == 999999999);
  CHECK(back.link_target == "/etc");
}

TEST_CASE("entries with fields out of range are violations", "[agent]") {
  auto decode = [](Entry e, uint8_t type_override = 255) {
    PayloadWriter w;
    EncodeEntry(e, w);
    std::string s = w.take();
    if (type_override != 255) s[2 + e.path.size()] = static_cast<char>(type_override);
    PayloadReader r(s, "agent");
    DecodeEntry(r);
  };
  Entry e = E("f");
  CHECK_THROWS_WITH(decode(e, 7), Catch::Contains("unknown type 7"));
  e.mode = 010000;
  CHECK_THROWS_WITH(decode(e), Catch::Contains("outside 07777"));
  e = E("f");
  e.mtime_nsec = 1000000000;
  CHECK_THROWS_WITH(decode(e), Catch::Contains("nanosecond"));
  e = D("d");
  e.size = 5;
  CHECK_THROWS_WITH(decode(e), Catch::Contains("not a file"));
  e = E("f");
  e.link_target = "x";
  CHECK_THROWS_WITH(decode(e), Catch::Contains("not a symlink"));
  e = E("l", FileType::kSymlink);
  e.link_target = "";
  CHECK_THROWS_WITH(decode(e), Catch::Contains("empty target"));
  e = E("f");
  e.rdev = 5;
  CHECK_THROWS_WITH(decode(e), Catch::Contains("device number"));
}

TEST_CASE("names that escape or lie are refused", "[agent]") {
  CHECK(BadPathReason("a/b.txt") == "");
  CHECK(BadPathReason("/etc/passwd") == "an absolute name");
  CHECK(BadPathReason("../x") == "a name with a '..' component");
  CHECK(BadPathReason("a/../../x") == "a name with a '..' component");
  CHECK(BadPathReason("a/./x") == "a name with a '.' component");
  CHECK(BadPathReason("a//x") == "a name with an empty component");
  CHECK(BadPathReason("a/") == "a name with an empty component");
  CHECK(BadPathReason(std::string("a\0b", 3)) == "a name with a NUL byte");
  CHECK(BadPathReason(std::string(256, 'n')).find("longer than 255") != std::string::npos);
  CHECK(BadPathReason(std::string(5000, 'n')).find("longer than 4096") != std::string::npos);
}

TEST_CASE("a listing must be in tree order with every parent a folder sent before", "[agent]") {
  CHECK(Listing({D(""), D("a"), E("a/x"), D("a/y"), E("a/y/z"), E("a.txt"), E("b")}) == "");
  CHECK_THAT(Listing({E("")}), Catch::Contains("does not start with its root folder"));
  CHECK_THAT(Listing({D(""), D("")}), Catch::Contains("second root"));
  CHECK_THAT(Listing({D(""), E("a"), E("a")}), Catch::Contains("duplicate or out of order"));
  CHECK_THAT(Listing({D(""), E("b"), E("a")}), Catch::Contains("duplicate or out of order"));
  // the symlink trick of rsync's 2024 advisories: a/ is a symlink, then a/passwd
  CHECK_THAT(Listing({D(""), E("a", FileType::kSymlink), E("a/passwd")}),
             Catch::Contains("not inside a folder sent before it"));
  CHECK_THAT(Listing({D(""), E("a"), E("a/x")}), Catch::Contains("not inside a folder sent before it"));
  CHECK_THAT(Listing({D(""), E("x/y")}), Catch::Contains("not inside a folder sent before it"));
  // a folder closed earlier cannot be reopened (that would allow duplicates)
  CHECK_THAT(Listing({D(""), D("a"), D("b"), E("a/x")}), Catch::Contains("not inside a folder sent before it"));
  CHECK_THAT(Listing({D(""), E("../etc")}), Catch::Contains("'..' component"));
}

TEST_CASE("messages decode what was encoded and refuse what is out of range", "[agent]") {
  Hello h{kProtocolVersion, "0.1.0", "x86_64"};
  Hello back = DecodeHello(EncodeHello(h), "agent");
  CHECK(back.program_version == "0.1.0");
  CHECK(back.machine == "x86_64");
  CHECK_THROWS_WITH(DecodeHello("SSH-2.0-OpenSSH", "agent"), Catch::Contains("does not speak the migrate agent protocol"));
  FileEnd fe;
  fe.index = 3;
  fe.size = 10;
  fe.hash = {1, 2};
  FileEnd fb = DecodeFileEnd(EncodeFileEnd(fe), "agent");
  CHECK(fb.index == 3);
  CHECK(fb.hash == fe.hash);
  std::string bad = EncodeFileEnd(fe);
  bad.back() = 2;
  CHECK_THROWS_WITH(DecodeFileEnd(bad, "agent"), Catch::Contains("out of range"));
  CHECK_THROWS_WITH(DecodeGet(EncodeGet({1, 0, 5, ""}), "peer"), Catch::Contains("whole-file GET with a signature"));
  CHECK_THROWS_WITH(DecodeFileBegin(EncodeFileBegin({1, 2}), "peer"), Catch::Contains("mode 2"));
}

TEST_CASE("GET names its file by path, checked like a listed name") {
  Get g = DecodeGet(EncodeGet({7, 0, 0, "d/x"}), "peer");
  CHECK(g.index == 7);
  CHECK(g.path == "d/x");
  CHECK_THROWS_WITH(DecodeGet(EncodeGet({1, 0, 0, "../etc/passwd"}), "peer"), Catch::Contains("'..' component"));
  CHECK_THROWS_WITH(DecodeGet(EncodeGet({1, 0, 0, "/etc/passwd"}), "peer"), Catch::Contains("absolute"));
  CHECK_THROWS_WITH(DecodeGet(EncodeGet({1, 0, 0, ""}), "peer"), Catch::Contains("root folder"));
}

TEST_CASE("an entry may carry a content hash, a regular file only") {
  Entry e = E("f");
  e.has_hash = true;
  e.hash_lo = 0x1122334455667788ull;
  e.hash_hi = 42;
  PayloadWriter w;
  EncodeEntry(e, w);
  CHECK(w.data().size() == EncodedEntrySize(e));
  PayloadReader r(w.data(), "peer");
  Entry back = DecodeEntry(r);
  CHECK(back.has_hash);
  CHECK(back.hash_lo == e.hash_lo);
  CHECK(back.hash_hi == 42);
  Entry d = D("d");
  d.has_hash = true;
  PayloadWriter w2;
  EncodeEntry(d, w2);
  PayloadReader r2(w2.data(), "peer");
  CHECK_THROWS_WITH(DecodeEntry(r2), Catch::Contains("content hash on an entry that is not a file"));
}

TEST_CASE("LIST flags and LIST_END totals") {
  ListRequest l = DecodeList(EncodeList({"/srv/app/data", kListCheckReadable | kListHashes}), "peer");
  CHECK(l.root == "/srv/app/data");
  CHECK(l.flags == 3);
  CHECK_THROWS_WITH(DecodeList(EncodeList({"/x", 8}), "peer"), Catch::Contains("unknown flags"));
  ListEnd e = DecodeListEnd(EncodeListEnd({12, 345}), "peer");
  CHECK(e.entries == 12);
  CHECK(e.bytes == 345);
}

TEST_CASE("RUN and RUN_END: arguments and exit codes bounded") {
  CHECK(DecodeRun(EncodeRun({"docker", "exec", "c", "pg_dump"}), "peer") ==
        std::vector<std::string>{"docker", "exec", "c", "pg_dump"});
  CHECK_THROWS_WITH(DecodeRun(EncodeRun({}), "peer"), Catch::Contains("with 0 arguments"));
  CHECK_THROWS_WITH(DecodeRun(EncodeRun({std::string("a\0b", 3)}), "peer"), Catch::Contains("NUL"));
  RunEnd e = DecodeRunEnd(EncodeRunEnd(1, "pg_dump: error\n"), "peer");
  CHECK(e.code == 1);
  CHECK(e.err == "pg_dump: error\n");
  CHECK_THROWS_WITH(DecodeRunEnd(EncodeRunEnd(300, ""), "peer"), Catch::Contains("exit code 300"));
  CHECK_THROWS_WITH(DecodeRunEnd(EncodeRunEnd(-1, ""), "peer"), Catch::Contains("exit code -1"));
}
