#include "daemon/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/io.h"
#include "core/log.h"
#include "core/timer.h"

namespace mig::daemon {

namespace {

using json = nlohmann::json;

json ToJson(const JobEvent& e) {
  json j = {{"seq", e.seq}, {"event", e.event}};
  if (e.event == "started") {
    j.update({{"kind", e.kind}, {"timestamp", e.timestamp}, {"id", e.id}, {"pid", e.pid}, {"at", e.at}});
  } else {
    j.update({{"of", e.of}, {"status", e.status}, {"error", e.error}, {"at", e.at}});
    if (e.interrupted) j["interrupted"] = true;
  }
  return j;
}

JobEvent FromJson(const json& j) {
  JobEvent e;
  e.seq = j.at("seq").get<uint64_t>();
  e.event = j.at("event").get<std::string>();
  if (e.event == "started") {
    e.kind = j.at("kind").get<std::string>();
    e.timestamp = j.value("timestamp", "");
    e.id = j.value("id", "");
    e.pid = j.value("pid", 0);
  } else if (e.event == "ended") {
    e.of = j.at("of").get<uint64_t>();
    e.status = j.at("status").get<std::string>();
    e.error = j.value("error", "");
    e.interrupted = j.value("interrupted", false);
  } else {
    throw std::runtime_error("unknown event \"" + e.event + "\"");
  }
  e.at = j.value("at", "");
  return e;
}

}  // namespace

Journal::Journal(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) Fail("cannot open the journal " + path_ + ": " + ErrnoString());
  fd_ = Fd(fd);
  std::string text;
  char buf[65536];
  const std::string what = "the journal " + path_;
  while (size_t n = ReadFd(fd, buf, sizeof buf, what.c_str())) text.append(buf, n);
  size_t line_no = 0, pos = 0;
  bool unterminated = false;  // the last line is whole but has no newline
  while (pos < text.size()) {
    ++line_no;
    const size_t start = pos;
    size_t nl = text.find('\n', pos);
    const bool last = nl == std::string::npos;
    const std::string line = text.substr(pos, last ? std::string::npos : nl - pos);
    pos = last ? text.size() : nl + 1;
    if (line.empty()) continue;
    try {
      events_.push_back(FromJson(json::parse(line)));
      next_ = std::max(next_, events_.back().seq + 1);
      unterminated = last;
    } catch (const std::exception& e) {
      if (!last) BadInput(path_ + ":" + std::to_string(line_no) + ": a damaged journal line (" + e.what() +
                          "); move the file aside to start with an empty journal");
      TheLog().warn(path_ + ":" + std::to_string(line_no) + ": a torn last line (a crash while it was written) dropped");
      if (::ftruncate(fd, static_cast<off_t>(start)) != 0 || ::fsync(fd) != 0)
        Fail("cannot write the journal " + path_ + ": " + ErrnoString());
    }
  }
  // A whole last line without its newline: the next one must not join it.
  if (unterminated && ::write(fd, "\n", 1) != 1)
    Fail("cannot write the journal " + path_ + ": " + ErrnoString());
}

void Journal::Append(const JobEvent& e) {
  const std::string line = ToJson(e).dump() + "\n";
  struct stat st {};
  const off_t before = ::fstat(fd_.get(), &st) == 0 ? st.st_size : -1;
  ssize_t n = ::write(fd_.get(), line.data(), line.size());  // O_APPEND: one write, one line
  if (n != static_cast<ssize_t>(line.size()) || ::fsync(fd_.get()) != 0) {
    const std::string why = ErrnoString();
    if (before >= 0) (void)::ftruncate(fd_.get(), before);  // never half a line
    Fail("cannot write the journal " + path_ + ": " + why);
  }
  events_.push_back(e);
}

uint64_t Journal::Started(const std::string& kind, const std::string& timestamp, const std::string& id, int pid) {
  JobEvent e;
  e.seq = next_++;
  e.event = "started";
  e.kind = kind;
  e.timestamp = timestamp;
  e.id = id;
  e.pid = pid;
  e.at = UtcNow();
  Append(e);
  return e.seq;
}

void Journal::Ended(uint64_t of, const std::string& status, const std::string& error, bool interrupted) {
  JobEvent e;
  e.seq = next_++;
  e.event = "ended";
  e.of = of;
  e.status = status;
  e.error = error;
  e.interrupted = interrupted;
  e.at = UtcNow();
  Append(e);
}

std::vector<JobEvent> Journal::Unfinished() const {
  std::set<uint64_t> ended;
  for (const auto& e : events_)
    if (e.event == "ended") ended.insert(e.of);
  std::vector<JobEvent> out;
  for (const auto& e : events_)
    if (e.event == "started" && !ended.count(e.seq)) out.push_back(e);
  return out;
}

}  // namespace mig::daemon
