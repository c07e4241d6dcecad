#include "health/check.h"

#include <algorithm>
#include <map>

namespace mig::health {

namespace {

constexpr int kJsonVersion = 1;

std::map<Status, int> Counts(const std::vector<Check>& checks) {
  std::map<Status, int> n = {{Status::kOk, 0}, {Status::kWarn, 0}, {Status::kFail, 0}, {Status::kSkip, 0}};
  for (const auto& c : checks) ++n[c.status];
  return n;
}

std::string Plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

const char* StatusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kWarn: return "warn";
    case Status::kFail: return "fail";
    case Status::kSkip: return "skip";
  }
  return "?";
}

Check Ok(std::string name, std::string detail) { return {std::move(name), Status::kOk, std::move(detail), ""}; }
Check Warn(std::string name, std::string detail, std::string fix) {
  return {std::move(name), Status::kWarn, std::move(detail), std::move(fix)};
}
Check Failed(std::string name, std::string detail, std::string fix) {
  return {std::move(name), Status::kFail, std::move(detail), std::move(fix)};
}
Check Skip(std::string name, std::string detail) { return {std::move(name), Status::kSkip, std::move(detail), ""}; }

void PrintTable(std::ostream& out, const std::vector<Check>& checks) {
  size_t w = std::string("CHECK").size();
  for (const auto& c : checks) w = std::max(w, c.name.size());
  const std::string status_col = "STATUS  ";
  auto pad = [](const std::string& s, size_t n) { return s + std::string(n > s.size() ? n - s.size() : 0, ' '); };
  out << pad("CHECK", w + 2) << status_col << "DETAIL\n";
  const std::string indent(w + 2 + status_col.size(), ' ');
  for (const auto& c : checks) {
    out << pad(c.name, w + 2) << pad(StatusName(c.status), status_col.size()) << c.detail << "\n";
    if (!c.fix.empty() && (c.status == Status::kFail || c.status == Status::kWarn))
      out << indent << "fix: " << c.fix << "\n";
  }
  auto n = Counts(checks);
  out << "\n";
  if (n[Status::kFail] == 0 && n[Status::kWarn] == 0) {
    out << "all " << Plural(n[Status::kOk], "check", "checks") << " passed";
  } else {
    out << Plural(n[Status::kFail], "check failed", "checks failed") << ", "
        << Plural(n[Status::kWarn], "warning", "warnings") << ", " << n[Status::kOk] << " ok";
  }
  if (n[Status::kSkip]) out << ", " << n[Status::kSkip] << " skipped";
  out << "\n";
}

nlohmann::ordered_json ToJson(const std::vector<Check>& checks) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& c : checks) {
    nlohmann::ordered_json r = {{"name", c.name}, {"status", StatusName(c.status)}, {"detail", c.detail}};
    r["fix"] = c.fix.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(c.fix);
    rows.push_back(std::move(r));
  }
  auto n = Counts(checks);
  return nlohmann::ordered_json{{"version", kJsonVersion},
          {"result", Result(checks)},
          {"summary",
           {{"ok", n[Status::kOk]}, {"warn", n[Status::kWarn]}, {"fail", n[Status::kFail]}, {"skip", n[Status::kSkip]}}},
          {"checks", rows}};
}

std::string Result(const std::vector<Check>& checks) {
  auto n = Counts(checks);
  return n[Status::kFail] ? "fail" : n[Status::kWarn] ? "warn" : "ok";
}

int ExitCode(const std::vector<Check>& checks) { return Result(checks) == "fail" ? 1 : 0; }

}  // namespace mig::health
