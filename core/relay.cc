// Relay() and OutputToFile(): a program's output carried on, to another program or a file.
#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "core/process.h"
#include "core/text.h"

namespace mig {

RelayResult Relay(Proc& from, Proc& to, const std::function<void(uint64_t)>& progress) {
  RelayResult r;
  std::vector<char> buf(1 << 20);
  try {
    for (size_t n; (n = from.read(buf.data(), buf.size())) > 0;) {
      try {
        to.write(buf.data(), n);
      } catch (const Error&) {
        r.to_stopped = true;  // its exit code and stderr say why
        from.kill();
        break;
      }
      r.bytes += n;
      if (progress) progress(r.bytes);
    }
    to.close_stdin();
  } catch (...) {
    from.kill();
    from.wait();
    to.kill();
    to.wait();
    throw;
  }
  r.from_code = from.wait();
  r.to_code = to.wait();
  return r;
}

uint64_t OutputToFile(const Host& host, const std::vector<std::string>& argv, const std::string& path,
                      const std::string& what) {
  const std::string part = path + ".part";  // the final name only once it is whole and durable
  Fd out(::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (out.get() < 0)
    Fail("cannot create " + part + ": " + ErrnoString() + " (is its folder writable?)");
  std::unique_ptr<Proc> proc = host.Start(argv, Proc::kStdout);
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  try {
    for (size_t n; (n = proc->read(buf.data(), buf.size())) > 0; total += n) {
      for (size_t off = 0; off < n;) {
        const ssize_t w = ::write(out.get(), buf.data() + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          const int e = errno;
          Fail("cannot write " + part + ": " + ErrnoString(e) +
               (e == ENOSPC ? " (the disk is full: free some room there)" : ""));
        }
        off += static_cast<size_t>(w);
      }
    }
  } catch (...) {
    proc->kill();
    proc->wait();
    throw;
  }
  if (proc->wait() != 0) Fail(what + " failed: " + TrimEnd(proc->err_text()));
  if (::fsync(out.get()) != 0) Fail("cannot flush " + part + ": " + ErrnoString());
  if (::rename(part.c_str(), path.c_str()) != 0) Fail("cannot rename " + part + " to " + path + ": " + ErrnoString());
  const std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0 || ::fsync(d.get()) != 0) Fail("cannot flush the folder of " + path + ": " + ErrnoString());
  return total;
}

}  // namespace mig
