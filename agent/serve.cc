#include "agent/serve.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "agent/frame.h"
#include "agent/block_delta.h"
#include "core/io.h"
#include "agent/wire.h"
#include "core/error.h"
#include "core/fd.h"

namespace mig::agent {

std::string MachineName() {
  struct utsname u {};
  ::uname(&u);
  return u.machine;
}

namespace {

using sync::Entry;
constexpr std::string_view kPeer = "migrate (the receiver)";
// Raw bytes of entries per ENTRIES frame (about a thousand entries): small enough that the
// receiver's walk of its target keeps pace with ours, large enough to compress well.
constexpr size_t kListFrameBytes = 64u << 10;

// One session: the listing it sent, and the stream it answers on.
class Server {
 public:
  Server(int in, int out, std::string version) : in_(in), out_(out), version_(std::move(version)), dec_(std::string(kPeer)) {}

  int Run() {
    try {
      while (true) {
        Frame f = Receive();
        switch (f.type) {
          case Type::kHello: {
            Hello h = DecodeHello(f.payload, kPeer);
            if (h.version != kProtocolVersion) Fail("protocol version " + std::to_string(h.version) + " is not spoken here");
            Hello mine{kProtocolVersion, version_, MachineName()};
            Send(Type::kHello, EncodeHello(mine));
            break;
          }
          case Type::kList: DoList(f.payload); break;
          case Type::kGet: DoGet(DecodeGet(f.payload, kPeer)); break;
          case Type::kRun: DoRun(DecodeRun(f.payload, kPeer)); break;
          case Type::kBye: Flush(); return 0;
          default: Violation(kPeer, std::string("an unexpected ") + TypeName(f.type) + " frame");
        }
      }
    } catch (const Error& e) {
      try {
        Send(Type::kError, EncodeError(e.what(), e.kind() != ErrorKind::kFailed));
        Flush();
      } catch (const Error&) {
      }
      return 1;
    }
  }

 private:
  Frame Receive() {
    Flush();  // answers go out before we wait for the next request
    while (true) {
      if (auto f = dec_.Next()) return std::move(*f);
      char buf[65536];
      size_t n = ReadFd(in_, buf, sizeof buf, "the receiver's stream");
      if (n == 0) {
        if (dec_.buffered() != 0) Violation(kPeer, "the stream ends in the middle of a frame");
        Fail("the receiver closed the connection without BYE");
      }
      dec_.Feed(std::string_view(buf, n));
    }
  }

  // Returns whether compressing was worth it (AppendFrame).
  bool Send(Type t, std::string_view payload, bool compress = false) {
    bool worth = AppendFrame(out_buf_, t, payload, compress);
    if (out_buf_.size() >= (1u << 20)) Flush();
    return worth;
  }
  void Flush() {
    WriteFd(out_, out_buf_.data(), out_buf_.size(), "the receiver's stream");
    out_buf_.clear();
    last_flush_ = std::chrono::steady_clock::now();
  }

  // True when the receiver has heard nothing for a while: long work (a delta of a big file
  // that matches throughout, hashing for --checksum, a slow walk) must not look like a dead
  // connection to its idle timeout. The caller then sends an empty frame and flushes.
  bool TimeToTalk() const { return std::chrono::steady_clock::now() - last_flush_ > std::chrono::seconds(10); }

  // Walks the tree and sends it as it goes: nothing of the listing stays here.
  void DoList(std::string_view payload) {
    ListRequest req = DecodeList(payload, kPeer);
    root_fd_ = Fd(sync::OpenDir(req.root));
    root_ = req.root;
    std::unique_ptr<sync::TreeStream> walk = sync::WalkTree(root_fd_.get(), root_, req.flags & kListCheckReadable);
    PayloadWriter w;
    uint32_t count = 0;
    ListEnd total;
    auto flush_entries = [&] {
      PayloadWriter head;
      head.U32(count).Raw(w.data());
      Send(Type::kEntries, head.data(), true);
      w = PayloadWriter();
      count = 0;
    };
    Entry e;
    while (walk->Next(e)) {
      if (TimeToTalk()) {
        flush_entries();  // possibly empty: count 0
        Flush();
      }
      ++total.entries;
      total.bytes += e.size;
      if (req.flags & kListTotalsOnly) continue;
      if ((req.flags & kListHashes) && e.type == sync::FileType::kRegular) HashInto(e);
      if (w.data().size() + EncodedEntrySize(e) > kListFrameBytes) {
        flush_entries();
        Flush();  // the receiver walks its target with what it has
      }
      EncodeEntry(e, w);
      ++count;
    }
    if (count) flush_entries();
    Send(Type::kListEnd, EncodeListEnd(total));
  }

  // For --checksum: the content hash of a listed file (left out when it cannot be read; the
  // receiver then copies it).
  void HashInto(Entry& e) {
    Fd fd(OpenBeneath(root_fd_.get(), e.path, O_RDONLY | O_NONBLOCK));
    struct stat st {};
    if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return;
    XXH3_state_t* st3 = XXH3_createState();
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hold(st3, XXH3_freeState);
    XXH3_128bits_reset(st3);
    std::string buf(kMaxChunk, '\0');
    while (true) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return;
      if (n == 0) break;
      XXH3_128bits_update(st3, buf.data(), static_cast<size_t>(n));
      if (TimeToTalk()) {
        Send(Type::kEntries, PayloadWriter().U32(0).data());  // no entries: "still here"
        Flush();
      }
    }
    XXH128_hash_t h = XXH3_128bits_digest(st3);
    e.has_hash = true;
    e.hash_lo = h.low64;
    e.hash_hi = h.high64;
  }

  // Opens the regular file `path` under the root, never through a symlink.
  // O_NONBLOCK: a fifo put there since the listing must not hang the agent.
  Fd OpenListed(const std::string& path) {
    Fd fd(OpenBeneath(root_fd_.get(), path, O_RDONLY | O_NONBLOCK));
    struct stat st {};
    if (fd.valid() && (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))) {
      errno = EINVAL;  // "Invalid argument": not a regular file
      return Fd();
    }
    return fd;
  }

  // Runs argv (stdin /dev/null), streams its stdout in DATA frames, then RUN_END with its exit
  // code and the tail of its stderr. The receiver reads nothing else meanwhile.
  void DoRun(const std::vector<std::string>& argv) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) != 0) Fail("cannot make a pipe: " + ErrnoString());
    if (::pipe2(err, O_CLOEXEC) != 0) Fail("cannot make a pipe: " + ErrnoString());
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) Fail("cannot start " + argv[0] + ": " + ErrnoString());
    if (pid == 0) {
      int null = ::open("/dev/null", O_RDONLY);
      if (null >= 0) ::dup2(null, 0);
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::execvp(args[0], args.data());
      std::string msg = "cannot run " + argv[0] + ": " + std::strerror(errno) + "\n";
      (void)!::write(2, msg.data(), msg.size());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    Fd out_fd(out[0]), err_fd(err[0]);
    std::string tail, buf(kMaxChunk, '\0');
    bool out_open = true, err_open = true;
    while (out_open || err_open) {
      struct pollfd fds[2] = {{out_open ? out_fd.get() : -1, POLLIN, 0}, {err_open ? err_fd.get() : -1, POLLIN, 0}};
      int n = ::poll(fds, 2, 10000);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || TimeToTalk()) {  // a quiet program: the receiver must not think us dead
        Send(Type::kData, "");
        Flush();
        if (n == 0) continue;
      }
      if (out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t k = ::read(out_fd.get(), buf.data(), buf.size());
        if (k > 0) Send(Type::kData, std::string_view(buf.data(), static_cast<size_t>(k)));
        else if (k == 0 || errno != EINTR) out_open = false;
      }
      if (err_open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t k = ::read(err_fd.get(), buf.data(), buf.size());
        if (k > 0) {
          tail.append(buf.data(), static_cast<size_t>(k));
          if (tail.size() > kMaxStderrTail) tail.erase(0, tail.size() - kMaxStderrTail);
        } else if (k == 0 || errno != EINTR) {
          err_open = false;
        }
      }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    Send(Type::kRunEnd, EncodeRunEnd(code, tail));
  }

  // The SIG frames of a delta's GET, decoded: checked before the answer begins.
  BlockSums ReadBlockSums(uint32_t bytes) {
    if (bytes > kMaxSumsBytes) Violation(kPeer, "block sums of " + std::to_string(bytes) + " bytes");
    std::string sig;
    while (sig.size() < bytes) {
      Frame f = Receive();
      if (f.type != Type::kSig) Violation(kPeer, std::string("a ") + TypeName(f.type) + " frame inside block sums");
      if (f.payload.size() > kMaxChunk || sig.size() + f.payload.size() > bytes)
        Violation(kPeer, "block sums longer than announced");
      sig += f.payload;
    }
    return DecodeBlockSums(sig, kPeer);
  }

  void DoGet(const Get& g) {
    const BlockSums sums = g.mode == 1 ? ReadBlockSums(g.sig_bytes) : BlockSums();
    if (!root_fd_.valid()) Violation(kPeer, "a GET before LIST");
    const std::string& path = g.path;
    Fd fd = OpenListed(path);
    if (!fd.valid()) {
      const bool vanished = errno == ENOENT;
      Send(Type::kFileFail, EncodeFileFail(g.index, "cannot open " + root_ + "/" + path + ": " + ErrnoString(), vanished));
      return;
    }
    Send(Type::kFile, EncodeFileBegin({g.index, g.mode}));
    XXH3_state_t* st = XXH3_createState();
    std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> hold(st, XXH3_freeState);
    XXH3_128bits_reset(st);
    uint64_t size = 0;
    std::string fail;
    if (g.mode == 0) {
      if (read_buf_.size() != kMaxChunk) read_buf_.assign(kMaxChunk, '\0');
      std::string& buf = read_buf_;
      // Content that does not compress (media, archives) is not tried again for the next
      // kRawRun frames of the file: zstd's time on it buys nothing.
      constexpr int kRawRun = 15;
      int raw_left = 0;
      while (true) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { fail = "cannot read " + root_ + "/" + path + ": " + ErrnoString(); break; }
        if (n == 0) break;
        XXH3_128bits_update(st, buf.data(), n);
        size += n;
        const bool try_zstd = raw_left == 0;
        const bool worth = Send(Type::kData, std::string_view(buf.data(), n), try_zstd);
        if (try_zstd) raw_left = worth ? 0 : kRawRun;
        else --raw_left;
      }
    } else {
      fail = SendDelta(fd.get(), path, sums, st, size);
    }
    if (!fail.empty()) {
      Send(Type::kFileFail, EncodeFileFail(g.index, fail));
      return;
    }
    struct stat after {};
    ::fstat(fd.get(), &after);
    FileEnd end;
    end.index = g.index;
    end.size = size;
    XXH128_hash_t h = XXH3_128bits_digest(st);
    end.hash = {h.low64, h.high64};
    end.mtime_sec = after.st_mtim.tv_sec;
    end.mtime_nsec = static_cast<uint32_t>(after.st_mtim.tv_nsec);
    Send(Type::kFileEnd, EncodeFileEnd(end));
  }

  // Streams the delta of the file against the receiver's block sums (agent/block_delta.h);
  // returns "" or why reading failed.
  std::string SendDelta(int fd, const std::string& path, const BlockSums& sums, XXH3_state_t* st, uint64_t& size) {
    std::string fail;
    auto read = [&](char* buf, size_t len) -> long {
      ssize_t n;
      do n = ::read(fd, buf, len); while (n < 0 && errno == EINTR);
      if (n < 0) {
        fail = "cannot read " + root_ + "/" + path + ": " + ErrnoString();
        return -1;
      }
      XXH3_128bits_update(st, buf, static_cast<size_t>(n));
      size += static_cast<uint64_t>(n);
      if (TimeToTalk()) {
        Send(Type::kData, "");  // no bytes: "still here"
        Flush();
      }
      return static_cast<long>(n);
    };
    // The delta comes in pieces of about 1 MiB: sent in frames of at most kMaxChunk.
    auto send = [&](std::string_view out) {
      for (size_t off = 0; off < out.size(); off += kMaxChunk) Send(Type::kData, out.substr(off, kMaxChunk), true);
    };
    if (WriteDelta(sums, read, send)) return "";
    return fail;
  }

  int in_, out_;
  std::string version_;
  FrameDecoder dec_;
  std::string out_buf_;
  std::string read_buf_;  // what GET reads a file into, reused from file to file
  std::chrono::steady_clock::time_point last_flush_ = std::chrono::steady_clock::now();
  Fd root_fd_;
  std::string root_;
};

}  // namespace

int Serve(int in_fd, int out_fd, const std::string& program_version) {
  return Server(in_fd, out_fd, program_version).Run();
}

}  // namespace mig::agent
