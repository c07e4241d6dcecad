#include "core/prefetch_host.h"

#include <charconv>

#include "core/error.h"
#include "core/log.h"

namespace mig {

std::string PrefetchScript(const std::vector<std::vector<std::string>>& argvs) {
  // The answers wait in a private folder until all are in: removed at the end, and on the
  // signals that end a shell (a killed run's SIGKILL leaves it: keep secrets out of argvs' answers).
  std::string s = "d=$(mktemp -d 2>/dev/null) || exit 125; trap 'rm -rf \"$d\"' EXIT; "
                  "trap 'rm -rf \"$d\"; exit 129' HUP INT TERM PIPE; ";
  for (size_t i = 0; i < argvs.size(); ++i) {
    const std::string n = std::to_string(i);
    s += "{ " + CommandLine(argvs[i]) + " </dev/null >\"$d/" + n + "o\" 2>\"$d/" + n + "e\"; echo $? >\"$d/" + n +
         "c\"; } & ";
  }
  s += "wait; i=0; while [ $i -lt " + std::to_string(argvs.size()) +
       " ]; do printf '%s %s %s %s\\n' $i \"$(cat \"$d/${i}c\")\" $(($(wc -c <\"$d/${i}o\"))) "
       "$(($(wc -c <\"$d/${i}e\"))); cat \"$d/${i}o\" \"$d/${i}e\"; i=$((i+1)); done";
  return s;
}

std::optional<std::vector<ProcResult>> ParsePrefetchOutput(const std::string& out, size_t count) {
  std::vector<ProcResult> answers;
  size_t pos = 0;
  auto number = [&](uint64_t& v, char end) {
    const char* first = out.data() + pos;
    const char* last = out.data() + out.size();
    auto [p, ec] = std::from_chars(first, last, v);
    if (ec != std::errc() || p == first || p == last || *p != end) return false;
    pos = static_cast<size_t>(p - out.data()) + 1;
    return true;
  };
  for (size_t i = 0; i < count; ++i) {
    uint64_t index, code, out_bytes, err_bytes;
    if (!number(index, ' ') || index != i || !number(code, ' ') || code > 255 || !number(out_bytes, ' ') ||
        !number(err_bytes, '\n'))
      return std::nullopt;
    if (out_bytes > out.size() - pos || err_bytes > out.size() - pos - out_bytes) return std::nullopt;
    ProcResult r;
    r.code = static_cast<int>(code);
    r.out = out.substr(pos, out_bytes);
    r.err = out.substr(pos + out_bytes, err_bytes);
    pos += out_bytes + err_bytes;
    answers.push_back(std::move(r));
  }
  if (pos != out.size()) return std::nullopt;
  return answers;
}

bool PrefetchHost::Prefetch(const std::vector<std::vector<std::string>>& argvs, std::chrono::seconds timeout,
                            size_t max_script) {
  if (argvs.empty()) return false;
  const std::string script = PrefetchScript(argvs);
  if (max_script && script.size() > max_script) return false;  // asked one by one
  std::optional<std::vector<ProcResult>> answers;
  try {
    ProcResult r = inner_.Run({"sh", "-c", script}, {}, timeout);
    if (r.ok()) answers = ParsePrefetchOutput(r.out, argvs.size());
    if (!answers)
      TheLog().info("the questions asked at once of " + inner_.Describe() + " gave no usable answer (exit " +
                    std::to_string(r.code) + "): they are asked one by one");
  } catch (const Error& e) {  // the steps ask again, and meet what failed here in their words
    TheLog().info(std::string("the questions asked at once of ") + inner_.Describe() + " failed: " + e.what());
  }
  if (!answers) return false;
  std::lock_guard<std::mutex> lock(mu_);
  answers_.clear();
  for (size_t i = 0; i < argvs.size(); ++i)
    // A program that could not be started (127) is asked again: the inner host says that its way.
    if ((*answers)[i].code != 127) answers_.emplace(argvs[i], std::move((*answers)[i]));
  at_ = std::chrono::steady_clock::now();
  return true;
}

ProcResult PrefetchHost::Run(const std::vector<std::string>& argv, const std::string& input,
                             std::chrono::seconds timeout) const {
  if (input.empty()) {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = answers_.find(argv);
    if (it != answers_.end()) {
      ProcResult r = std::move(it->second);
      answers_.erase(it);
      if (std::chrono::steady_clock::now() - at_ <= kFresh) return r;
      answers_.clear();  // stale: asked anew from now on
    }
  }
  return inner_.Run(argv, input, timeout);
}

size_t PrefetchHost::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return answers_.size();
}

}  // namespace mig
