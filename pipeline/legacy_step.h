// The steps of a legacy source (docs/legacy.md): its root paths carried to the same paths in the
// new release with the data/ merge rules, and its .env edits moved into the new release's
// custom.env. Both run again harmlessly: a resumed run carries what is left.
#pragma once

#include <string>

#include "origin/origin.h"
#include "pipeline/options.h"
#include "pipeline/preflight.h"
#include "pipeline/report.h"

namespace mig {

// "carry root paths": s.from.legacy_paths read on the old side as one tar stream (through the
// origin's programs), staged in run_dir/root.new and merged into s.to.dir with
// sync::MergeOptions::only (what only the new release has is kept; nothing else of it is read).
// The new release's own copies of those paths are kept first in run_dir/root.backup/ (hard
// links; a resumed run keeps the first attempt's).
void CarryRootPaths(const Options& o, Origin& origin, const Sides& s, const std::string& run_dir, Report& rep);

// "move .env edits": MoveEnvEdits (install/legacy.h) of the old .env and custom.env into the
// new custom.env, the one it replaces kept as run_dir/custom.env.before; the report names the
// keys moved (never their values).
void MoveEnvStep(const Sides& s, const std::string& run_dir, Report& rep);

}  // namespace mig
