#include "core/recorded_host.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/timer.h"

namespace mig {

namespace {

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

nlohmann::json EncodeText(const std::string& bytes) {
  try {
    (void)nlohmann::json(bytes).dump();  // throws on bytes that are not UTF-8
    return bytes;
  } catch (const nlohmann::json::exception&) {
    static const char* hex = "0123456789abcdef";
    std::string h;
    for (unsigned char c : bytes) h += hex[c >> 4], h += hex[c & 15];
    return {{"hex", h}};
  }
}

std::string DecodeText(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (!j.is_object() || !j.contains("hex")) Fail("a recorded output is neither text nor {\"hex\": ...}");
  std::string h = j["hex"].get<std::string>(), out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < h.size(); i += 2) out += static_cast<char>(nib(h[i]) << 4 | nib(h[i + 1]));
  return out;
}

// A started program whose reads and end are written as one record when it ends.
class RecordingProc : public Proc {
 public:
  RecordingProc(const RecordingHost& host, std::unique_ptr<Proc> inner, nlohmann::json rec)
      : host_(host), inner_(std::move(inner)), rec_(std::move(rec)) {
    command_ = inner_->command();
  }
  ~RecordingProc() override { Flush(-1); }
  size_t read(char* buf, size_t len) override {
    size_t n = inner_->read(buf, len);
    if (n) rec_["reads"].push_back(EncodeText(host_.Abstract(std::string(buf, n))));
    return n;
  }
  void write(const char* buf, size_t len) override { inner_->write(buf, len); }
  void close_stdin() override { inner_->close_stdin(); }
  int wait() override {
    int code = inner_->wait();
    Flush(code);
    return code;
  }
  void kill() override { inner_->kill(); }
  std::string err_text() const override { return inner_->err_text(); }

 private:
  void Flush(int code) {
    if (done_) return;
    done_ = true;
    rec_["code"] = code;
    rec_["ms"] = static_cast<int64_t>(sw_.seconds() * 1000);
    rec_["err"] = EncodeText(host_.Abstract(inner_->err_text()));
    host_.Append(rec_.dump());
  }
  const RecordingHost& host_;
  std::unique_ptr<Proc> inner_;
  nlohmann::json rec_;
  bool done_ = false;
  Stopwatch sw_;
};

// A started program answered from its record: its reads in the recorded pieces, its end.
class ReplayProc : public Proc {
 public:
  ReplayProc(std::string command, std::vector<std::string> reads, int code, std::string err,
             std::shared_ptr<ReplayHost::Inputs> inputs)
      : reads_(std::move(reads)), code_(code), err_(std::move(err)), inputs_(std::move(inputs)) {
    command_ = std::move(command);
  }
  size_t read(char* buf, size_t len) override {
    while (next_ < reads_.size() && off_ >= reads_[next_].size()) ++next_, off_ = 0;
    if (next_ >= reads_.size()) return 0;
    size_t n = std::min(len, reads_[next_].size() - off_);
    std::copy_n(reads_[next_].data() + off_, n, buf);
    off_ += n;
    return n;
  }
  void write(const char* buf, size_t len) override {
    std::lock_guard<std::mutex> lock(inputs_->mu);
    inputs_->lines.push_back(command_ + " <<< " + std::string(buf, len));
  }
  void close_stdin() override {}
  int wait() override { return code_; }
  void kill() override {}
  std::string err_text() const override { return err_; }

 private:
  std::vector<std::string> reads_;
  size_t next_ = 0, off_ = 0;
  int code_;
  std::string err_;
  std::shared_ptr<ReplayHost::Inputs> inputs_;
};

}  // namespace

namespace {
// When this process started, near enough: records say when each program began ("at_ms"), so
// that a recording is also a timeline of the run (the old server's beside this one's).
const auto kProcessStart = std::chrono::steady_clock::now();
int64_t MsSinceStart() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - kProcessStart).count();
}
}  // namespace

RecordingHost::RecordingHost(const Host& inner, std::string file, std::string root)
    : HostInFront(inner), file_(std::move(file)), root_(std::move(root)) {}

std::string RecordingHost::Abstract(const std::string& s) const { return Replace(s, root_, "@ROOT@"); }

uint64_t RecordingHost::NextSeq() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seq_++;
}

void RecordingHost::Append(const std::string& line) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ofstream out(file_, std::ios::app);
  out << line << "\n";
}

ProcResult RecordingHost::Run(const std::vector<std::string>& argv, const std::string& input,
                              std::chrono::seconds timeout) const {
  const uint64_t seq = NextSeq();
  const int64_t at = MsSinceStart();
  Stopwatch sw;
  ProcResult r = inner_.Run(argv, input, timeout);
  nlohmann::json rec = {{"seq", seq}, {"kind", "run"}, {"argv", nlohmann::json::array()}, {"code", r.code},
                        {"at_ms", at}, {"ms", static_cast<int64_t>(sw.seconds() * 1000)}};
  for (const auto& a : argv) rec["argv"].push_back(EncodeText(Abstract(a)));
  rec["out"] = EncodeText(Abstract(r.out));
  rec["err"] = EncodeText(Abstract(r.err));
  Append(rec.dump());
  return r;
}

std::unique_ptr<Proc> RecordingHost::Start(const std::vector<std::string>& argv, int pipes) const {
  nlohmann::json rec = {{"seq", NextSeq()}, {"kind", "start"}, {"argv", nlohmann::json::array()}, {"pipes", pipes},
                        {"at_ms", MsSinceStart()}, {"reads", nlohmann::json::array()}};
  for (const auto& a : argv) rec["argv"].push_back(EncodeText(Abstract(a)));
  return std::make_unique<RecordingProc>(*this, inner_.Start(argv, pipes), std::move(rec));
}

ReplayHost::ReplayHost(const std::string& file, std::string root)
    : inputs_(std::make_shared<Inputs>()) {
  std::ifstream in(file);
  if (!in) Fail("cannot read the recording " + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    Record r;
    r.seq = j.value("seq", records_.size());
    r.kind = j.at("kind").get<std::string>();
    for (const auto& a : j.at("argv")) r.argv.push_back(Replace(DecodeText(a), "@ROOT@", root));
    r.code = j.value("code", -1);
    if (j.contains("out")) r.out = Replace(DecodeText(j["out"]), "@ROOT@", root);
    r.err = Replace(DecodeText(j.at("err")), "@ROOT@", root);
    if (j.contains("reads"))
      for (const auto& piece : j["reads"]) r.reads.push_back(Replace(DecodeText(piece), "@ROOT@", root));
    records_.push_back(std::move(r));
  }
  std::stable_sort(records_.begin(), records_.end(), [](const Record& a, const Record& b) { return a.seq < b.seq; });
  used_.assign(records_.size(), 0);
}

const ReplayHost::Record* ReplayHost::Find(const std::vector<std::string>& argv, const char* kind) const {
  const Record* last = nullptr;
  for (size_t i = 0; i < records_.size(); ++i) {
    if (records_[i].kind != kind || records_[i].argv != argv) continue;
    last = &records_[i];
    if (!used_[i]) {
      used_[i] = 1;
      return last;
    }
  }
  return last;  // all used: the last one again (a probe polled more often than recorded)
}

const ReplayHost::Fault* ReplayHost::FaultFor(const std::vector<std::string>& argv) const {
  for (const auto& f : faults_)
    if (f.when(argv)) return &f;
  return nullptr;
}

ProcResult ReplayHost::Run(const std::vector<std::string>& argv, const std::string& input,
                           std::chrono::seconds timeout) const {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back(CommandLine(argv));
  if (const Fault* f = FaultFor(argv)) return {f->code, "", f->err};
  const Record* r = Find(argv, "run");
  if (!r) {
    misses_.push_back(CommandLine(argv));
    return {127, "", "no recording for " + CommandLine(argv)};
  }
  return {r->code, r->out, r->err};
}

std::unique_ptr<Proc> ReplayHost::Start(const std::vector<std::string>& argv, int pipes) const {
  std::lock_guard<std::mutex> lock(mu_);
  calls_.push_back(CommandLine(argv));
  if (const Fault* f = FaultFor(argv)) return std::make_unique<ReplayProc>(CommandLine(argv), std::vector<std::string>{}, f->code, f->err, inputs_);
  const Record* r = Find(argv, "start");
  if (!r) {
    misses_.push_back(CommandLine(argv));
    return std::make_unique<ReplayProc>(CommandLine(argv), std::vector<std::string>{}, 127,
                                        "no recording for " + CommandLine(argv), inputs_);
  }
  return std::make_unique<ReplayProc>(CommandLine(argv), r->reads, r->code, r->err, inputs_);
}

ThisHostOverride::ThisHostOverride(const Host& host) : previous_(SwapThisHost(&host)) {}
ThisHostOverride::~ThisHostOverride() { SwapThisHost(previous_); }

}  // namespace mig
