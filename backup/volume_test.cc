// A volume's tree through tar and back, on this machine's real GNU tar (the same commands run on
// a Swarm node over SSH): every attribute kept, the same bytes for the same tree, nothing
// changed when the stream is bad.
#include "backup/volume.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/files.h"

using namespace mig;
using namespace mig::backup;
namespace fs = std::filesystem;

namespace {

void Write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

void SetTime(const std::string& path, long sec, long nsec) {
  timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

// A tree with what volumes hold: contents, modes (setuid), owners, nanosecond times, links,
// an empty folder, a sparse file, a fifo, an xattr where the file system takes one.
bool MakeTree(const std::string& d) {
  fs::create_directories(d + "/sub/empty");
  Write(d + "/a.txt", "alpha\n");
  ::chmod((d + "/a.txt").c_str(), 04755);
  Write(d + "/sub/b.bin", std::string(100000, 'b'));
  ::link((d + "/sub/b.bin").c_str(), (d + "/sub/b-hard").c_str());
  ::symlink("sub/b.bin", (d + "/link").c_str());
  int fd = ::open((d + "/sparse").c_str(), O_CREAT | O_WRONLY, 0640);
  ::pwrite(fd, "end", 3, 50 << 20);
  ::close(fd);
  ::mkfifo((d + "/fifo").c_str(), 0600);
  if (::geteuid() == 0) ::lchown((d + "/sub/b.bin").c_str(), 1234, 2345);
  const bool xattr = ::setxattr((d + "/a.txt").c_str(), "user.origin", "node2", 5, 0) == 0;
  SetTime(d + "/a.txt", 1600000000, 123456789);
  SetTime(d + "/link", 1600000001, 5);
  SetTime(d + "/sub/empty", 1600000002, 7);
  SetTime(d + "/sub", 1600000003, 9);
  return xattr;
}

// Every entry with its attributes, as one text per path.
std::map<std::string, std::string> State(const std::string& d) {
  std::map<std::string, std::string> out;
  for (auto it = fs::recursive_directory_iterator(d); it != fs::recursive_directory_iterator(); ++it) {
    const std::string p = it->path().string();
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    std::string s = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid) +
                    " n" + std::to_string(st.st_nlink) + " t" + std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec);
    if (S_ISREG(st.st_mode)) {
      std::ifstream in(p, std::ios::binary);
      std::string body((std::istreambuf_iterator<char>(in)), {});
      s += " " + std::to_string(body.size()) + " " + std::to_string(std::hash<std::string>{}(body));
      s += " blocks" + std::to_string(st.st_blocks < 1024 ? 0 : st.st_blocks);  // a hole stays a hole
    }
    if (S_ISLNK(st.st_mode)) s += " -> " + fs::read_symlink(p).string();
    char val[64] = {};
    if (::lgetxattr(p.c_str(), "user.origin", val, sizeof val) > 0) s += std::string(" xattr ") + val;
    out[p.substr(d.size())] = s;
  }
  return out;
}

std::string Out(const std::string& dir) {
  std::string bytes;
  StreamTreeOut(ThisHost(), dir, [&](const char* b, size_t n) { bytes.append(b, n); });
  return bytes;
}

std::function<size_t(char*, size_t)> From(const std::string& bytes) {
  auto pos = std::make_shared<size_t>(0);
  return [&bytes, pos](char* buf, size_t len) {
    size_t n = std::min(len, bytes.size() - *pos);
    std::memcpy(buf, bytes.data() + *pos, n);
    *pos += n;
    return n;
  };
}

}  // namespace

TEST_CASE("volume stream: this machine's tar is GNU tar 1.28 or newer") { RequireGnuTar(ThisHost()); }

TEST_CASE("volume stream: a tree out and in again, every attribute kept, what was there before gone") {
  TempDir t;
  const std::string src = t.path() + "/src", dst = t.path() + "/dst";
  const bool xattr = MakeTree(src);
  fs::create_directories(dst + "/old");
  ::chmod(dst.c_str(), 0700);
  Write(dst + "/old/stale", "made since the backup");
  const std::string bytes = Out(src);
  CHECK(bytes.size() < (1 << 20));  // the 50 MiB hole is not in the stream
  CHECK(StreamTreeIn(ThisHost(), dst, From(bytes)) == bytes.size());
  const auto a = State(src), b = State(dst);
  CHECK(a == b);
  CHECK(b.count("/old") == 0);
  if (xattr) CHECK(b.at("/a.txt").find("xattr node2") != std::string::npos);
  if (::geteuid() == 0) CHECK(b.at("/sub/b.bin").find(" 1234:2345 ") != std::string::npos);
  CHECK(b.at("/sub/b.bin").find(" n2 ") != std::string::npos);  // the hard link is a link again
  struct stat s1 {}, s2 {};  // the volume's own folder too: its mode and time are the backup's
  REQUIRE(::stat(src.c_str(), &s1) == 0);
  REQUIRE(::stat(dst.c_str(), &s2) == 0);
  CHECK(s1.st_mode == s2.st_mode);
  CHECK(s1.st_mtim.tv_sec == s2.st_mtim.tv_sec);
  CHECK(!fs::exists(dst + ".restoring"));
  CHECK(!fs::exists(dst + ".before-restore"));
}

TEST_CASE("volume stream: a restore keeps the tree before beside it; its own resumed attempt keeps the first") {
  TempDir t;
  const std::string src = t.path() + "/src", dst = t.path() + "/dst";
  MakeTree(src);
  const std::string bytes = Out(src);
  fs::create_directories(dst);
  Write(dst + "/original", "the install's own");
  fs::create_directories(dst + ".before-20200101-000000");  // what an earlier restore kept
  Write(dst + ".before-20200101-000000/older", "x");
  StreamTreeIn(ThisHost(), dst, From(bytes), "20261201-100000");
  CHECK(fs::exists(dst + ".before-20261201-100000/original"));
  CHECK(!fs::exists(dst + ".before-20200101-000000"));  // another restore's: removed
  CHECK(!fs::exists(dst + "/original"));
  // The same restore again (an attempt resumed): the tree from before the restore stays kept.
  Write(dst + "/written-between", "y");
  StreamTreeIn(ThisHost(), dst, From(bytes), "20261201-100000");
  CHECK(fs::exists(dst + ".before-20261201-100000/original"));
  CHECK(!fs::exists(dst + ".before-20261201-100000/written-between"));
  CHECK(State(src) == State(dst));
  // A volume folder gone between the renames: said, naming where its tree is.
  fs::rename(dst, t.path() + "/elsewhere");
  CHECK_THROWS_WITH(StreamTreeIn(ThisHost(), dst, From(bytes), "20261202-000000"),
                    Catch::Contains(".before-20261201-100000 holds a tree"));
}

TEST_CASE("volume stream: the same tree gives the same bytes (restic stores them once)") {
  TempDir t;
  MakeTree(t.path() + "/v");
  fs::remove(t.path() + "/v/sparse");  // tar names a sparse file's header by its process id
  const std::string first = Out(t.path() + "/v");
  ::sleep(1);  // a later access or change time must not show in the stream
  std::ifstream(t.path() + "/v/a.txt").get();
  struct stat st {};  // its change time moves, nothing else
  REQUIRE(::stat((t.path() + "/v/sub/b.bin").c_str(), &st) == 0);
  ::chmod((t.path() + "/v/sub/b.bin").c_str(), 0600);
  ::chmod((t.path() + "/v/sub/b.bin").c_str(), st.st_mode & 07777);
  CHECK(first == Out(t.path() + "/v"));
  Write(t.path() + "/v/sub/b.bin", std::string(100000, 'c'));
  CHECK(first != Out(t.path() + "/v"));
}

TEST_CASE("volume stream: a bad stream or a missing folder changes nothing, with one sentence") {
  TempDir t;
  const std::string dst = t.path() + "/dst";
  fs::create_directories(dst);
  Write(dst + "/keep", "the volume's own");
  const std::string garbage(5000, 'x');
  try {
    StreamTreeIn(ThisHost(), dst, From(garbage));
    FAIL("a garbage stream was taken");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("the volume is as it was") != std::string::npos);
  }
  CHECK(fs::exists(dst + "/keep"));
  CHECK(!fs::exists(dst + ".restoring"));
  CHECK_THROWS_WITH(StreamTreeIn(ThisHost(), t.path() + "/nothing", From(garbage)),
                    Catch::Contains("is not a folder"));
  CHECK_THROWS_WITH(Out(t.path() + "/nothing"), Catch::Contains("reading " + t.path() + "/nothing on this machine failed"));
}

namespace {

// This machine, but a program's output is cut after `keep` bytes and it then "ends well": a
// connection lost without an exit status, as an SSH channel can end.
class CutHost : public Host {
 public:
  explicit CutHost(size_t keep) : keep_(keep) {}
  ProcResult Run(const std::vector<std::string>& argv, const std::string& input,
                 std::chrono::seconds timeout) const override {
    return ThisHost().Run(argv, input, timeout);
  }
  std::unique_ptr<Proc> Start(const std::vector<std::string>& argv, int pipes) const override {
    class Cut : public Proc {
     public:
      Cut(std::unique_ptr<Proc> p, size_t left) : p_(std::move(p)), left_(left) {}
      size_t read(char* buf, size_t len) override {
        if (left_ == 0) return 0;
        size_t n = p_->read(buf, std::min(len, left_));
        left_ -= n;
        return n;
      }
      void write(const char* buf, size_t len) override { p_->write(buf, len); }
      void close_stdin() override { p_->close_stdin(); }
      int wait() override {
        p_->kill();
        p_->wait();
        return 0;
      }
      void kill() override { p_->kill(); }
      std::string err_text() const override { return ""; }

     private:
      std::unique_ptr<Proc> p_;
      size_t left_;
    };
    return std::make_unique<Cut>(ThisHost().Start(argv, pipes), keep_);
  }
  std::string Describe() const override { return "a cut connection"; }

 private:
  size_t keep_;
};

}  // namespace

TEST_CASE("volume stream: a stream cut short without an error is refused, not taken for the volume") {
  TempDir t;
  MakeTree(t.path() + "/v");
  CutHost cut(3000);
  CHECK_THROWS_WITH(StreamTreeOut(cut, t.path() + "/v", [](const char*, size_t) {}),
                    Catch::Contains("ended before its end-of-archive blocks"));
}
