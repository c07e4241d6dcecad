#include "backup/volume.h"

#include "core/error.h"
#include "core/log.h"
#include "core/text.h"

namespace mig::backup {

namespace {

// Stops a tar whose stream failed; its own trouble never hides the cause.
void Stop(Proc& tar) {
  try {
    tar.kill();
    tar.wait();
  } catch (...) {
  }
}

}  // namespace

std::vector<std::string> TarOutArgv(const std::string& dir) {
  return {"tar",           "--create",     "--format=posix", "--sort=name",
          "--numeric-owner", "--xattrs",   "--xattrs-include=*", "--acls",
          "--sparse",      "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime", "-C", dir, "-f", "-", "."};
}

std::vector<std::string> TarInArgv(const std::string& dir) {
  return {"tar",  "--extract",       "--numeric-owner", "--same-owner",       "--same-permissions",
          "--xattrs", "--xattrs-include=*", "--acls", "--delay-directory-restore", "-C", dir, "-f", "-"};
}

void RequireGnuTar(const Host& host) {
  ProcResult r = host.Run({"tar", "--version"}, {}, std::chrono::seconds(30));
  const std::string first = r.out.substr(0, r.out.find('\n'));
  int major = 0, minor = 0;
  const auto at = first.rfind(' ');
  if (r.ok() && first.find("GNU tar") != std::string::npos && at != std::string::npos &&
      std::sscanf(first.c_str() + at + 1, "%d.%d", &major, &minor) == 2 && (major > 1 || minor >= 28))
    return;
  Fail(host.Describe() + " has no GNU tar 1.28 or newer (" + (r.ok() ? first : r.last_error_line()) +
       "): a volume is read and written there with it (apt-get install tar)");
}

std::string VolumeMountpoint(const Host& host, const std::string& volume) {
  ProcResult r = host.Run({"docker", "volume", "inspect", "--format", "{{.Mountpoint}}", volume}, {},
                          std::chrono::seconds(30));
  return r.ok() ? TrimEnd(r.out) : "";
}

std::string CreateVolume(const Host& host, const std::string& volume, const std::map<std::string, std::string>& labels) {
  std::vector<std::string> argv{"docker", "volume", "create"};
  for (const auto& [k, v] : labels) argv.insert(argv.end(), {"--label", k + "=" + v});
  argv.push_back(volume);
  ProcResult r = host.Run(argv, {}, std::chrono::seconds(60));
  if (!r.ok()) Fail("cannot make the volume " + volume + " on " + host.Describe() + ": " + r.last_error_line());
  const std::string mp = VolumeMountpoint(host, volume);
  if (mp.empty()) Fail("the volume " + volume + " made on " + host.Describe() + " has no mount point");
  return mp;
}

uint64_t StreamTreeOut(const Host& host, const std::string& dir,
                       const std::function<void(const char*, size_t)>& sink) {
  auto tar = host.Start(TarOutArgv(dir), Proc::kStdout);
  std::vector<char> buf(1 << 20);
  uint64_t bytes = 0;
  std::string tail;  // the stream's last 1024 bytes: a whole archive ends with two zero blocks
  try {
    for (size_t n; (n = tar->read(buf.data(), buf.size())) > 0;) {
      sink(buf.data(), n);
      bytes += n;
      tail.append(buf.data(), n);
      if (tail.size() > 1024) tail.erase(0, tail.size() - 1024);
    }
  } catch (...) {
    Stop(*tar);
    throw;
  }
  const int code = tar->wait();
  if (code == 1)
    TheLog().warn("files under " + dir + " on " + host.Describe() +
                  " changed while they were read (tar: " + TrimEnd(tar->err_text()) +
                  "): stop the services that write there (--suspend) for a consistent copy");
  else if (code != 0)
    Fail("reading " + dir + " on " + host.Describe() + " failed (tar exit " + std::to_string(code) +
         "): " + TrimEnd(tar->err_text()));
  if (tail.size() < 1024 || tail.find_first_not_of('\0') != std::string::npos)
    Fail("the tar stream of " + dir + " from " + host.Describe() + " ended before its end-of-archive blocks (the "
         "connection was cut?)");
  return bytes;
}

uint64_t StreamTreeIn(const Host& host, const std::string& dir, const std::function<size_t(char*, size_t)>& source,
                      const std::string& keep_tag) {
  // DIR must be a folder of its own file system's parent (renamed, not a mount point); the
  // extraction's folder is made fresh beside it.
  // A tree kept by this restore (DIR.before-TAG) stays; those of other restores (DIR.before-*) go.
  const char* prepare =
      "set -e; d=$1; k=$2; if [ ! -d \"$d\" ]; then for x in \"$d\".before-*; do if [ -d \"$x\" ]; then echo \"$d is "
      "missing but $x holds a tree (a restore stopped between its renames): move it back first\" >&2; exit 3; fi; "
      "done; echo \"$d is not a folder\" >&2; exit 3; fi; "
      "[ \"$(stat -c %d \"$d\")\" = \"$(stat -c %d \"$d/..\")\" ] || "
      "{ echo \"$d is a mount point (a volume with driver options): not supported\" >&2; exit 3; }; "
      "rm -rf \"$d.restoring\"; for x in \"$d\".before-*; do [ \"$x\" = \"$d.before-$k\" ] || rm -rf \"$x\"; done; "
      "mkdir \"$d.restoring\"";
  const std::string tag = keep_tag.empty() ? "restore" : keep_tag;
  ProcResult p = host.Run({"sh", "-c", prepare, "sh", dir, tag}, {}, std::chrono::seconds(600));
  if (!p.ok()) Fail("cannot restore into " + dir + " on " + host.Describe() + ": " + p.last_error_line());
  const std::string staging = dir + ".restoring";
  auto discard = [&] {  // best effort: its own trouble never hides the cause
    try {
      host.Run({"rm", "-rf", staging}, {}, std::chrono::seconds(600));
    } catch (...) {
    }
  };
  auto tar = host.Start(TarInArgv(staging), Proc::kStdin);
  std::vector<char> buf(1 << 20);
  uint64_t bytes = 0;
  try {
    for (size_t n; (n = source(buf.data(), buf.size())) > 0;) {
      tar->write(buf.data(), n);
      bytes += n;
    }
    tar->close_stdin();
  } catch (...) {
    Stop(*tar);
    discard();
    throw;
  }
  if (int code = tar->wait(); code != 0) {
    const std::string why = TrimEnd(tar->err_text());
    discard();
    Fail("writing " + dir + " on " + host.Describe() + " failed (tar exit " + std::to_string(code) + "): " + why +
         "; the volume is as it was");
  }
  // The tree before goes to DIR.before-TAG, unless this restore kept one there already (an
  // earlier attempt): then DIR holds that attempt's copy, which is replaced.
  const char* swap =
      "d=$1; k=$2; if [ -e \"$d.before-$k\" ]; then rm -rf \"$d\" || exit 3; else mv \"$d\" \"$d.before-$k\" || exit 3; fi; "
      "mv \"$d.restoring\" \"$d\" || { mv \"$d.before-$k\" \"$d\"; exit 4; }; "
      "[ \"$3\" = keep ] || rm -rf \"$d.before-$k\" || true";
  ProcResult s = host.Run({"sh", "-c", swap, "sh", dir, tag, keep_tag.empty() ? "drop" : "keep"}, {},
                          std::chrono::seconds(600));
  if (!s.ok()) {
    discard();
    Fail("cannot swap the restored tree into " + dir + " on " + host.Describe() + ": " + s.last_error_line() +
         "; the volume is as it was");
  }
  return bytes;
}

}  // namespace mig::backup
