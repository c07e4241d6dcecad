// Editing a compose file as text, so that only what changes differs (docs/compose-rewrite.md).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mig::compose {

// Replace `len` bytes at byte offset `pos` with `text` (len 0: insert).
struct Edit {
  size_t pos = 0, len = 0;
  std::string text;
};

// Applies non-overlapping edits (any order). Throws mig::Error on overlapping edits.
std::string ApplyEdits(const std::string& text, std::vector<Edit> edits);

// What giving every top-level volume a prefixed name takes.
struct VolumePrefixPlan {
  std::vector<Edit> edits;
  std::vector<std::string> warnings;  // external volumes left alone, ...
  std::vector<std::pair<std::string, std::string>> names;  // volume key -> new name
};

// Plans the edits that give every top-level volume of the compose text `text` (read from
// `file`, for messages) the name "<prefix>_<key>". Throws mig::Error (input) on bad YAML, an
// invalid prefix, or a volume defined through an alias.
VolumePrefixPlan PlanVolumePrefix(const std::string& text, const std::string& file, const std::string& prefix);

// The edits that replace each service's placement constraint (services.S.deploy.placement.
// constraints[]) for which `rewrite(S, constraint)` gives a new text (docs/swarm.md "Restore
// onto nodes"). Throws mig::Error (input) on bad YAML, or a constraint to rewrite that is
// written in a way that cannot be edited in place (escapes, folded lines): FILE:LINE:COLUMN.
using ConstraintRewrite = std::function<std::optional<std::string>(const std::string& service, const std::string&)>;
std::vector<Edit> PlanConstraintEdits(const std::string& text, const std::string& file, const ConstraintRewrite& rewrite);

// The compose text with only `service` under services: (the other top-level keys kept), for a
// stack deploy of that one service. Throws mig::Error (input) on bad YAML or no such service.
std::string OneServiceText(const std::string& text, const std::string& file, const std::string& service);

// The lines that differ between two texts whose line structure differs only by the edits:
// "-old" / "+new" lines with their line numbers, for --dry-run.
std::string LineDiff(const std::string& before, const std::string& after);

}  // namespace mig::compose
