#include "pipeline/report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace mig {

void Report::Check(const std::string& name, bool ok, const std::string& detail) {
  checks.push_back({{"name", name}, {"ok", ok}, {"detail", detail}});
}

nlohmann::json Report::ToJson() const {
  nlohmann::json j;
  j["format"] = "migrate-report/1";
  j["command"] = command;
  j["started_at"] = started_at;
  j["from"] = from;
  j["to"] = to;
  j["migration_dir"] = migration_dir;
  j["dry_run"] = dry_run;
  j["resumed"] = resumed;
  j["result"] = result;
  if (!error.empty()) j["error"] = error;
  j["steps"] = nlohmann::json::array();
  double total = 0;
  for (const auto& s : steps) {
    j["steps"].push_back({{"name", s.name}, {"status", s.status}, {"seconds", s.seconds}, {"detail", s.detail}});
    total += s.seconds;
  }
  j["total_seconds"] = total;
  j["data"] = data;
  j["database"] = database;
  j["checks"] = checks;
  j["next_steps"] = next_steps;
  if (!dns_hook.is_null()) j["dns_hook"] = dns_hook;
  return j;
}

std::string Report::Summary() const {
  std::ostringstream o;
  o << "\n" << command << ": " << result << (dry_run ? " (dry run: nothing was changed)" : "") << "\n";
  for (const auto& s : steps) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%8.2f s", s.seconds);
    o << "  " << buf << "  " << s.name << ": " << s.status << (s.detail.empty() ? "" : " - " + s.detail) << "\n";
  }
  for (const auto& c : checks)
    o << "  check " << c["name"].get<std::string>() << ": " << (c["ok"].get<bool>() ? "ok" : "FAILED")
      << (c["detail"].get<std::string>().empty() ? "" : " (" + c["detail"].get<std::string>() + ")") << "\n";
  if (!error.empty()) o << "error: " << error << "\n";
  if (!migration_dir.empty() && !dry_run) o << "report: " << migration_dir << "/report.json\n";
  if (!next_steps.empty()) {
    o << "next:\n";
    for (const auto& n : next_steps) o << "  - " << n << "\n";
  }
  return o.str();
}

void Report::Write(const std::string& path) const { WriteFileAtomic(path, ToJson().dump(2) + "\n"); }

Step::Step(Report& r, std::string name) : r_(r) {
  rec_.name = std::move(name);
  TheLog().info("== " + rec_.name);
}

Step::~Step() {
  if (!closed_) {
    rec_.status = "failed";
    rec_.seconds = sw_.seconds();
    r_.steps.push_back(rec_);
  }
}

void Step::Done(const std::string& detail) {
  rec_.status = "ok";
  rec_.detail = detail;
  rec_.seconds = sw_.seconds();
  r_.steps.push_back(rec_);
  closed_ = true;
}

void Step::Failed(const std::string& why) {
  rec_.status = "failed";
  rec_.detail = why;
  rec_.seconds = sw_.seconds();
  r_.steps.push_back(rec_);
  closed_ = true;
}

void Step::Skip(const std::string& why) {
  rec_.status = "skipped";
  rec_.detail = why;
  rec_.seconds = sw_.seconds();
  r_.steps.push_back(rec_);
  closed_ = true;
}

}  // namespace mig
