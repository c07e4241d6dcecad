// Legacy installs (releases 2.24 and earlier, docs/legacy.md): their configuration at the install
// root, their postgres data in a volume `<version>_postgres_data`. Pure functions over what the
// origin gathered, so that every rule is unit-tested without an engine.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compose/compose.h"

namespace mig {

// The root paths a legacy release keeps its configuration and flat-file state in, carried to the
// same paths in the new release.
inline const std::vector<std::string> kLegacyRootPaths = {"Caddyfile", ".caddy", "etc/ssl", ".pivot-db"};

// Why the source is a legacy install ("" when it is not): some of kLegacyRootPaths at its root
// (`present`). Never its VERSION alone: the products this tool serves number their releases
// their own way (a 1.0.0 is no legacy release of theirs).
std::string LegacyReason(const std::vector<std::string>& present);

// The postgres data volume a legacy source's database lives in, and the compose project whose
// `postgres_data` it is (what Install::project_name must be for every later step to reach it).
struct LegacyDbVolume {
  std::string volume, project;
};

// Chooses it from the volumes of the source's engine (`docker volume ls`):
//  - `override` (--from-project) decides: OVERRIDE_KEY;
//  - PROJECT_KEY when it exists (the project the install runs or would run under);
//  - else the one VERSION_KEY among them, VERSION written as compose made a project name of it
//    ("v2.24.1" -> v2241, v2_24_1, 2241, ...).
// `key`: the database service's volume key ("postgres_data"). Throws mig::Error (input) naming
// the candidates when none or several fit.
LegacyDbVolume ChooseLegacyDbVolume(const std::string& key, const std::string& project, const std::string& version,
                                    const std::vector<std::string>& volumes, const std::string& override);

// The key of the named volume `service` keeps its postgres data in (mounted at
// /var/lib/postgresql/data, else the service's first named volume); "" when none.
std::string DbVolumeKey(const compose::Project& p, const std::string& service);

// The operator's edits to a legacy release's .env, moved into the new release's custom.env:
// each KEY of `old_env` whose value differs from `new_env`'s, or that `new_env` lacks, and every
// KEY of `old_custom`, written into `new_custom` (a KEY already there: its line replaced; else
// appended), the old line byte for byte. The keys a release owns (COMPOSE_PROJECT_NAME,
// COMPOSE_FILE, VERSION, *_TAG, *_VERSION, and POSTGRES_USER/PASSWORD/DB: its database volume was
// made with its own) are never moved.
struct EnvMove {
  std::string custom_env;          // the new custom.env's text
  std::vector<std::string> moved;  // the keys moved, in order (names only: values may be secrets)
  std::vector<std::string> owned;  // the release's keys that differed and were left
};
EnvMove MoveEnvEdits(const std::string& old_env, const std::string& old_custom, const std::string& new_env,
                     const std::string& new_custom);

}  // namespace mig
