# What the Swarm suites (tests/e2e/swarm_*.sh) share; sourced after lib.sh.

# rigs_down NAME...: takes down the rigs (scripts/rig/swarm.sh down) at once, whatever is left of them
rigs_down() {
  local r
  for r in "$@"; do bash "$ROOT/scripts/rig/swarm.sh" down "$r" >/dev/null 2>&1 & done
  wait
}

# field "A=1 B=2" A -> 1 (swarm.sh env's SWARM_NODES and SWARM_SOCKS)
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

# demo_install DIR STACK NODE1 NODE2 [WEB_REPLICAS]: the demo install as an operator deploys it
# with `docker stack deploy -c DIR/docker-compose.yml STACK`: VERSION 1.0.0, .env naming the
# project, postgres pinned to NODE1, the app and its volume app_data pinned to NODE2, and with
# WEB_REPLICAS a service web (no volume, that many replicas, placed anywhere).
demo_install() {
  local dir=$1 stack=$2 n1=$3 n2=$4 web=${5:-}
  mkdir -p "$dir/data"
  echo 1.0.0 >"$dir/VERSION"
  echo "COMPOSE_PROJECT_NAME=$stack" >"$dir/.env"
  cat >"$dir/docker-compose.yml" <<YML
version: "3.8"
services:
  postgres:
    image: migrate-test/postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: s3cr3t-Demo_pw
      POSTGRES_DB: appdb
    volumes:
      - postgres_data:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app -d appdb"]
      interval: 2s
      timeout: 3s
      retries: 15
    stop_grace_period: 5s
    deploy:
      placement:
        constraints: [node.hostname == $n1]
  app:
    image: migrate-test/busybox:1
    command: ["httpd", "-f", "-p", "8080", "-h", "/srv"]
    init: true
    volumes:
      - app_data:/srv
    stop_grace_period: 2s
    deploy:
      placement:
        constraints: [node.hostname == $n2]
YML
  if [[ -n "$web" ]]; then
    cat >>"$dir/docker-compose.yml" <<YML
  web:
    image: migrate-test/busybox:1
    command: ["httpd", "-f", "-p", "8081", "-h", "/tmp"]
    init: true
    stop_grace_period: 2s
    deploy:
      replicas: $web
YML
  fi
  cat >>"$dir/docker-compose.yml" <<YML
volumes:
  postgres_data: {}
  app_data: {}
YML
}
