// The data/ steps: the plan (--dry-run) and the merge, both from the origin's tree into the
// target's data/ with rsync -a rules (sync/). The plan a dry run prints is the value a real
// run records before carrying it out (report.json data.plan).
#pragma once

#include <nlohmann/json.hpp>

#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"
#include "sync/apply.h"

namespace mig {

// The plan's totals as report.json writes them (docs/report.md).
nlohmann::json PlanJson(const sync::PlanTotals& t);
// One line: "data/: 3 to create, 1 to replace, ...; 1.2 MiB to copy".
std::string PlanLine(const sync::PlanTotals& t);

// Plans the merge without changing anything (the step "plan data/"); with o.show_plan prints
// every path that would change.
sync::MergeResult PlanData(const Options& o, Origin& origin, const Sides& s, Report& rep);

// Merges the origin's data/ into the target's (the step "merge data/"), with a progress line
// against the preflight's totals; records plan, stats, wire bytes and the hash check in `rep`.
// `final_delta`: the two-phase cutover's second merge (the step "merge data/ (final delta)", its
// figures under report.json's data.final_delta).
sync::MergeResult MergeData(const Options& o, Origin& origin, const Sides& s, Report& rep, bool final_delta = false);

}  // namespace mig
