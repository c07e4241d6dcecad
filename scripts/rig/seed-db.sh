#!/usr/bin/env bash
# Create demo tables with rows in a running postgres container of a release
# made by make-release.sh: users (serial id), events (FK + index), a view.
#
# Usage: scripts/rig/seed-db.sh CONTAINER [ROWS]
#   ROWS: number of events (default 1000); re-running adds more rows.
#   Env: PGUSER (default app), PGDATABASE (default appdb).
set -euo pipefail

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$RIG_DIR/../lib/common.sh"

[[ $# -ge 1 && $# -le 2 ]] || { sed -n '2,8p' "$0" >&2; exit 2; }
CONTAINER="$1"
ROWS="${2:-1000}"
[[ "$ROWS" =~ ^[0-9]+$ ]] || die "ROWS must be a number: $ROWS"
DB_USER="${PGUSER:-app}"
DB_NAME="${PGDATABASE:-appdb}"

docker exec -i "$CONTAINER" psql -X -q -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 \
    -v rows="$ROWS" <<'SQL'
CREATE TABLE IF NOT EXISTS users (
    id         serial PRIMARY KEY,
    email      text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS events (
    id       bigserial PRIMARY KEY,
    user_id  integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind     text NOT NULL,
    payload  jsonb NOT NULL DEFAULT '{}'::jsonb,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS events_user_at_idx ON events (user_id, at);

INSERT INTO users (email, name)
SELECT 'user' || g || '@example.test', 'User ' || g || ' ü'
FROM generate_series(1, 20) AS g
ON CONFLICT (email) DO NOTHING;

INSERT INTO events (user_id, kind, payload)
SELECT (SELECT id FROM users ORDER BY id OFFSET (g % 20) LIMIT 1),
       (ARRAY['login', 'logout', 'upload', 'share'])[1 + g % 4],
       jsonb_build_object('n', g, 'note', 'demo row ' || g)
FROM generate_series(1, :rows) AS g;

CREATE OR REPLACE VIEW user_event_counts AS
SELECT u.id, u.email, count(e.id) AS events
FROM users u LEFT JOIN events e ON e.user_id = u.id
GROUP BY u.id, u.email;
SQL

counts="$(docker exec "$CONTAINER" psql -X -A -t -U "$DB_USER" -d "$DB_NAME" \
    -c "SELECT (SELECT count(*) FROM users) || ' users, ' || (SELECT count(*) FROM events) || ' events'")"
log "seeded $CONTAINER ($DB_NAME): $counts"
