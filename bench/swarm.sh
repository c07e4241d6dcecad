#!/usr/bin/env bash
# migrate backup create / migrate restore of a stack on Docker Swarm as the operator runs them,
# against the by-hand steps they replace, side by side in one run, each into its own folder
# repository. Two rigs (scripts/rig/swarm.sh): the old Swarm (2 nodes) holds the demo stack
# (postgres pinned to node 1, the app with its volume app_data pinned to node 2, web x2); the
# new Swarm (2 nodes, other hostnames and addresses) is the restore's target.
#   backup by hand:  ssh node2 docker run --rm -v demo_app_data:/v:ro busybox tar -C /v -cf - .
#                      | restic backup --stdin --stdin-filename app_data.tar
#                    ssh node1 docker exec PG pg_dump -Fc | restic backup --stdin --stdin-filename db.dump
#                    restic backup VERSION .env docker-compose.yml data   (in the install folder)
#   restore by hand (DOCKER_HOST at the new manager):
#                    restic restore the install folder, sed the constraints onto the new nodes,
#                    restic dump app_data.tar | ssh newnode2 docker run --rm -i -v demo_app_data:/v busybox tar -xf -
#                    docker stack deploy, wait for postgres,
#                    restic dump db.dump | docker exec -i PG pg_restore --clean --if-exists,
#                    wait until every service runs its replicas
#                    (over a running stack first: docker stack rm, wait until its containers and
#                    network are gone, docker volume rm of the app's volume on node 2)
# Cases: the first backup (into an empty, initialised repository), a second one after 1% of the
# small files and 1 MiB of each large file changed (bench/gendata.py --touch), the restore onto
# the new Swarm with nothing of the stack there (each side's run starts from a new Swarm wiped
# of the stack, its volumes and migrate's folder: not timed), and the restore again over the
# stack running there. Time is the median of REPS, peak memory the largest local process's (the
# tar on the nodes is not counted, on either side). Every restore is checked afterwards (not
# timed): the app's volume on the new node 2 equals the old one (tests/tools/treestate.py; by
# hand with mtimes in whole seconds: busybox tar keeps no more), every table's row count.
# Usage: bench/swarm.sh [--quick]   (env: DIRS FILES BIG BIG_MB SCALE REPS, MIGRATE_BIN). Needs
# root and what scripts/test.sh installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-10} FILES=${FILES:-50} BIG=${BIG:-1} BIG_MB=${BIG_MB:-8} SCALE=${SCALE:-1} REPS=${REPS:-1}; fi
DIRS=${DIRS:-50} FILES=${FILES:-200} BIG=${BIG:-2} BIG_MB=${BIG_MB:-256} SCALE=${SCALE:-5} REPS=${REPS:-3}
. "$root/tests/e2e/lib.sh"
work=$WORK
. "$root/bench/lib.sh"

oldrig=${SWARM_RIG_OLD:-sbold}
newrig=${SWARM_RIG_NEW:-sbnew}
swarm=$root/scripts/rig/swarm.sh
stack=demo
rigs_down() {
  bash "$swarm" down "$oldrig" >/dev/null 2>&1 &
  bash "$swarm" down "$newrig" >/dev/null 2>&1 &
  wait
}
trap 'rigs_down || true; cleanup_suite' EXIT
rigs_down # what a crashed run may have left
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; } # field "A=1 B=2" A -> 1
bench_start=$SECONDS

# --- both rigs at once (as tests/e2e/swarm_restore.sh). The nodes share the host's file system,
# root's ~/.bashrc included: bash, run by sshd for every command over SSH, sources it (on this test
# machine it runs `pyenv init`, 0.5-1.5 s a command). A node's root shell does not do that as a
# rule: SHLVL=1 in each session's environment (bash then is not a top-level shell and skips
# it), for both sides alike. SWARM_BENCH_BASHRC=1 keeps root's ~/.bashrc.
[[ -n "${SWARM_BENCH_BASHRC:-}" ]] || export RIG_SSHD_EXTRA="SetEnv SHLVL=1"
ensure_packages iproute2 util-linux openssh-server openssh-client docker.io
ensure_engine
docker image inspect migrate-test/postgres:15 migrate-test/busybox:1 >/dev/null 2>&1 || bash "$root/scripts/rig/images.sh"
start=$SECONDS
bash "$swarm" up "$oldrig" 2 >"$WORK/up-$oldrig.log" 2>&1 &
p_old=$!
bash "$swarm" up "$newrig" 2 >"$WORK/up-$newrig.log" 2>&1 &
p_new=$!
wait "$p_old" && urc_old=0 || urc_old=$?
wait "$p_new" && urc_new=0 || urc_new=$?
if ((urc_old || urc_new)); then
  cat "$WORK/up-$oldrig.log" "$WORK/up-$newrig.log" >&2
  die "a rig did not come up"
fi
log "both swarms up in $((SECONDS - start)) s"
eval "$(bash "$swarm" env "$oldrig")"
old1=${oldrig}1 old2=${oldrig}2
oaddr1=$(field "$SWARM_NODES" "$old1") oaddr2=$(field "$SWARM_NODES" "$old2")
osock1=$SWARM_MANAGER_SOCK osock2=$(field "$SWARM_SOCKS" "$old2")
okey=$SWARM_KEY okh=$SWARM_KNOWN_HOSTS
eval "$(bash "$swarm" env "$newrig")"
new1=${newrig}1 new2=${newrig}2
naddr2=$(field "$SWARM_NODES" "$new2")
nsock1=$SWARM_MANAGER_SOCK nsock2=$(field "$SWARM_SOCKS" "$new2")
nkey=$SWARM_KEY nkh=$SWARM_KNOWN_HOSTS
om() { docker -H "unix://$osock1" "$@"; } # the old manager (node 1)
ow() { docker -H "unix://$osock2" "$@"; } # the old worker (node 2)
nm() { docker -H "unix://$nsock1" "$@"; } # the new manager
nw() { docker -H "unix://$nsock2" "$@"; } # the new worker

# --- the install on the old Swarm, deployed as tests/e2e/swarm_restore.sh deploys it
INST=$WORK/install
mkdir -p "$INST/data"
echo 1.0.0 >"$INST/VERSION"
echo "COMPOSE_PROJECT_NAME=$stack" >"$INST/.env"
echo "the install's own data/" >"$INST/data/README"
cat >"$INST/docker-compose.yml" <<YML
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
        constraints: [node.hostname == $old1]
  app:
    image: migrate-test/busybox:1
    command: ["httpd", "-f", "-p", "8080", "-h", "/srv"]
    init: true
    volumes:
      - app_data:/srv
    stop_grace_period: 2s
    deploy:
      placement:
        constraints: [node.hostname == $old2]
  web:
    image: migrate-test/busybox:1
    command: ["httpd", "-f", "-p", "8081", "-h", "/tmp"]
    init: true
    stop_grace_period: 2s
    deploy:
      replicas: 2
volumes:
  postgres_data: {}
  app_data: {}
YML
om stack deploy --resolve-image never -c "$INST/docker-compose.yml" "$stack" >/dev/null 2>&1
# all_running DOCKER: every service of the stack runs its replicas (and there are three)
all_running() {
  local l
  l=$($1 service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Replicas}}')
  [[ $(wc -l <<<"$l") == 3 ]] && ! awk -F/ '$1 != $2 { bad = 1 } END { exit !bad }' <<<"$l"
}
# pg_of DOCKER: the stack's postgres container there, once it answers
pg_of() {
  local c i
  for ((i = 0; i < 240; i++)); do
    c=$($1 ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres")
    if [[ -n "$c" && "$c" != *$'\n'* ]] && $1 exec "$c" pg_isready -q -h 127.0.0.1 -U app -d appdb 2>/dev/null; then
      echo "$c"
      return 0
    fi
    sleep 0.5
  done
  die "no postgres answers"
}
for _ in $(seq 240); do all_running om && break; sleep 0.5; done
all_running om || die "the stack did not come up on the old swarm"
opg=$(pg_of om)

# --- the data: the app's volume on old node 2, pgbench in postgres
ovol=$(ow volume inspect "${stack}_app_data" -f '{{.Mountpoint}}')
log "generating $DIRS x $FILES small files, $BIG x $BIG_MB MiB into $old2's ${stack}_app_data and pgbench scale $SCALE"
python3 "$root/bench/gendata.py" "$ovol" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB"
om exec "$opg" pgbench -q -i -s "$SCALE" -U app appdb >/dev/null 2>&1
size=$(du -sh "$ovol" | cut -f1)
db_size=$(om exec "$opg" psql -X -At -U app -d appdb -c "select pg_size_pretty(pg_database_size('appdb'))")
ln -s "$ovol" "$WORK/src" # gendata.py --touch works on this name
echo "bench password" >"$WORK/pw"
export RESTIC_PASSWORD_FILE=$WORK/pw
RM=$WORK/repo-migrate RH=$WORK/repo-hand
ossh="ssh -i $okey -o UserKnownHostsFile=$okh -o BatchMode=yes"
nssh="ssh -i $nkey -o UserKnownHostsFile=$nkh -o BatchMode=yes"
pgsvc="label=com.docker.swarm.service.name=${stack}_postgres"

cat >"$WORK/m-backup.sh" <<SH
DOCKER_HOST=unix://$osock1 exec "$BIN/migrate" backup create --repo "$RM" --password-file "$WORK/pw" \
  --key "$okey" --known-hosts "$okh" --to-path "$INST" --json --quiet </dev/null
SH
cat >"$WORK/h-backup.sh" <<SH
set -euo pipefail
cd "$INST"
$ossh root@$oaddr2 docker run --rm --network none -v ${stack}_app_data:/v:ro migrate-test/busybox:1 tar -C /v -cf - . |
  restic -r "$RH" backup --quiet --tag app --stdin --stdin-filename app_data.tar >/dev/null
$ossh root@$oaddr1 'docker exec \$(docker ps -q -f $pgsvc) pg_dump -Fc -U app appdb' |
  restic -r "$RH" backup --quiet --tag db --stdin --stdin-filename db.dump >/dev/null
restic -r "$RH" backup --quiet --tag files VERSION .env docker-compose.yml data >/dev/null
SH

DIR=$WORK/restored HDIR=$WORK/by-hand
# The restores: migrate's of its latest backup ($WORK/id, written once the backups are done).
cat >"$WORK/m-restore.sh" <<SH
DOCKER_HOST=unix://$nsock1 exec "$BIN/migrate" restore "\$(cat "$WORK/id")" --to-path "$DIR" --repo "$RM" \
  --password-file "$WORK/pw" --key "$nkey" --known-hosts "$nkh" --node-map "$old1=$new1" --node-map "$old2=$new2" \
  --resolve-image never --yes --json </dev/null
SH
cat >"$WORK/h-steps.sh" <<SH
mkdir -p "$HDIR"
cd "$HDIR"
restic -r "$RH" restore latest --tag files --target . >/dev/null
sed -i -e 's/node.hostname == $old1]/node.hostname == $new1]/' -e 's/node.hostname == $old2]/node.hostname == $new2]/' docker-compose.yml
restic -r "$RH" dump --tag app latest /app_data.tar |
  $nssh root@$naddr2 docker run --rm -i --network none -v ${stack}_app_data:/v migrate-test/busybox:1 tar -C /v -xf -
docker stack deploy --resolve-image never -c docker-compose.yml $stack >/dev/null
until pg=\$(docker ps -q -f $pgsvc) && [ -n "\$pg" ] && docker exec "\$pg" pg_isready -q -h 127.0.0.1 -U app -d appdb; do sleep 0.5; done
restic -r "$RH" dump --tag db latest /db.dump | docker exec -i "\$pg" pg_restore --clean --if-exists -U app -d appdb
until [ "\$(docker service ls -f label=com.docker.stack.namespace=$stack --format '{{.Replicas}}' | awk -F/ '\$1 == \$2' | wc -l)" = 3 ]; do sleep 0.5; done
SH
{
  echo "set -euo pipefail"
  echo "export DOCKER_HOST=unix://$nsock1"
  cat "$WORK/h-steps.sh"
} >"$WORK/h-restore.sh"
{
  echo "set -euo pipefail"
  echo "export DOCKER_HOST=unix://$nsock1"
  cat <<SH
docker stack rm $stack >/dev/null
until [ -z "\$(docker ps -aq -f label=com.docker.stack.namespace=$stack)\$($nssh root@$naddr2 docker ps -aq -f label=com.docker.stack.namespace=$stack)\$(docker network ls -q -f label=com.docker.stack.namespace=$stack)" ]; do sleep 0.5; done
$nssh root@$naddr2 docker volume rm ${stack}_app_data >/dev/null
SH
  cat "$WORK/h-steps.sh"
} >"$WORK/h-rerun.sh"
cp "$WORK/m-restore.sh" "$WORK/m-rerun.sh"

fresh_repos() {
  rm -rf "$RM" "$RH"
  restic -r "$RM" init >/dev/null 2>&1
  restic -r "$RH" init >/dev/null 2>&1
}
# wipe_new: nothing of the stack left on the new Swarm (services, containers, network, volumes)
stack_left() {
  nm service ls -q --filter "label=com.docker.stack.namespace=$stack"
  nm ps -aq --filter "label=com.docker.stack.namespace=$stack"
  nw ps -aq --filter "label=com.docker.stack.namespace=$stack"
  nm network ls -q --filter "label=com.docker.stack.namespace=$stack"
}
wipe_new() {
  nm stack rm "$stack" >/dev/null 2>&1 || true
  for _ in $(seq 240); do
    [[ -z "$(stack_left)" ]] && break
    sleep 0.5
  done
  [[ -z "$(stack_left)" ]] || die "the stack did not go from the new swarm"
  local d
  for d in nm nw; do
    { $d volume ls -q | grep "^${stack}_" || true; } | xargs -r docker -H "unix://$([[ $d == nm ]] && echo "$nsock1" || echo "$nsock2")" volume rm >/dev/null
  done
}

# run_case CASE: both sides' WHAT script (backup), alternating (bench/lib.sh), one table row.
row() {
  local case=$1 h m hm mm
  h=$(cat "$work/h-$case.t") m=$(cat "$work/m-$case.t") hm=$(cat "$work/h-$case.m") mm=$(cat "$work/m-$case.m")
  printf '| %s | %.2f | %.2f | %s | %d | %d |\n' "$case" "$h" "$m" "$(ratio "$m" "$h")" $((hm / 1024)) $((mm / 1024)) >>"$WORK/table"
}
run_backup() {
  alternate "$1" "$2" "$WORK/h-backup.sh" "$WORK/m-backup.sh"
  row "$1"
  local i
  for ((i = 1; i <= REPS; i++)); do
    test "$(jq -r .status "$work/m-$1-$i.out")" = ready || die "migrate's backup $1-$i is not ready"
  done
}

# --- what every restore must give back
state "$ovol" >"$WORK/vol.old"
sed -E "s/ ([0-9]+)[0-9]{9} '/ \\1 '/" "$WORK/vol.old" >"$WORK/vol.old.s"
state "$INST/data" >"$WORK/data.old"
# dbstate DOCKER CONTAINER: each pgbench table's row count
dbstate() {
  $1 exec "$2" psql -X -q -At -U app -d appdb -v ON_ERROR_STOP=1 -c "
    select 'accounts', count(*) from pgbench_accounts; select 'branches', count(*) from pgbench_branches;
    select 'tellers', count(*) from pgbench_tellers; select 'history', count(*) from pgbench_history;"
}
# verify SIDE NAME: after a restore (not timed): the volume on the new node 2, data/, the rows,
# each service on its node
verify() {
  local side=$1 name=$2 nvol npg
  for _ in $(seq 240); do all_running nm && break; sleep 0.5; done
  nvol=$(nw volume inspect "${stack}_app_data" -f '{{.Mountpoint}}')
  npg=$(pg_of nm)
  if [[ $side == m ]]; then
    check "$name: the volume on $new2 equals the old one" diff -q "$WORK/vol.old" <(state "$nvol")
    check "$name: data/ too" diff -q "$WORK/data.old" <(state "$DIR/data")
  else
    check "$name: the volume on $new2 equals the old one (mtimes in seconds)" \
      diff -q "$WORK/vol.old.s" <(state "$nvol" | sed -E "s/ ([0-9]+)[0-9]{9} '/ \\1 '/")
    check "$name: data/ too" diff -q "$WORK/data.old" <(state "$HDIR/data")
  fi
  check "$name: every table's rows" diff -q "$WORK/db.old" <(dbstate nm "$npg")
  check "$name: postgres on $new1, the app on $new2, web 2/2" test \
    "$(nm service ps -f desired-state=running --format '{{.Name}} {{.Node}}' "${stack}_postgres" "${stack}_app" | sort | tr '\n' ' ')" \
    = "${stack}_app.1 $new2 ${stack}_postgres.1 $new1 "
}

# alternate_each CASE H_PREP M_PREP: as bench/lib.sh's alternate, with each side's own prep
# before it (eval'd, not timed) and verify after it (not timed).
alternate_each() {
  local case=$1 h_prep=$2 m_prep=$3 i t
  for ((i = 1; i <= REPS; i++)); do
    local order="h m"
    ((i % 2 == 0)) && order="m h"
    for t in $order; do
      if [[ $t == h ]]; then eval "$h_prep"; else eval "$m_prep"; fi
      sync
      sleep 1
      measure "$t-$case-$i" bash "$WORK/$t-$case.sh"
      verify "$t" "$case $i ($([[ $t == h ]] && echo by hand || echo migrate))" >>"$WORK/checks"
    done
  done
  for t in h m; do
    for i in $(seq 1 "$REPS"); do cut -d' ' -f1 "$work/$t-$case-$i"; done | median >"$work/$t-$case.t"
    for i in $(seq 1 "$REPS"); do cut -d' ' -f2 "$work/$t-$case-$i"; done | sort -n | tail -1 >"$work/$t-$case.m"
  done
}

dbstate om "$opg" >"$WORK/db.old"
: >"$WORK/table"
: >"$WORK/checks"
log "backups ($REPS rounds each)"
run_backup first fresh_repos
run_backup second touch_set
# the state every restore must give back: the volume after the last touch
state "$ovol" >"$WORK/vol.old"
sed -E "s/ ([0-9]+)[0-9]{9} '/ \\1 '/" "$WORK/vol.old" >"$WORK/vol.old.s"
jq -r .id "$work/m-second-$REPS.out" >"$WORK/id"
cp "$work/m-second-$REPS.out" "$WORK/backup.json"
# The old Swarm is gone before the restores (disaster recovery; its engines idle no more).
bash "$swarm" down "$oldrig" >/dev/null 2>&1
log "restores onto the new swarm ($REPS rounds each)"
alternate_each restore "wipe_new; rm -rf '$HDIR'" "wipe_new; rm -rf '$DIR'"
row restore
alternate_each rerun : :
row rerun
sed -i -e 's/^| first |/| first backup |/' -e 's/^| second |/| second, after 1% changed |/' \
  -e 's/^| restore |/| restore onto the new swarm |/' -e 's/^| rerun |/| restore again over the running stack |/' "$WORK/table"

# where the time goes: migrate's restore steps (median over the rounds), the backup's parts
steps() {
  python3 - "$@" <<'PY'
import json, statistics, sys
names, times = [], {}
for f in sys.argv[1:]:
    for st in json.load(open(f)).get("steps", []):
        if st["name"] not in times:
            names.append(st["name"])
        times.setdefault(st["name"], []).append(float(st["seconds"]))
for n in names:
    print("%s %.2f" % (n, statistics.median_low(times[n])))
PY
}

echo
echo "### Swarm: migrate backup/restore vs the by-hand steps: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size) in the app's volume on node 2, pgbench scale $SCALE ($db_size), median of $REPS"
echo
echo "| case | by hand s | migrate s | ratio | by hand peak RSS MiB | migrate peak RSS MiB |"
echo "|---|---|---|---|---|---|"
cat "$WORK/table"
echo
echo "migrate restore's steps, onto the new swarm (median s):"
steps "$work"/m-restore-*.out | sed 's/^/  /'
echo "over the running stack:"
steps "$work"/m-rerun-*.out | sed 's/^/  /'
echo "the backup's JSON (second backup, last round):"
jq -c 'del(.manifest)?' "$WORK/backup.json" | cut -c1-2000
echo
cat "$WORK/checks"
echo "# whole bench: $((SECONDS - bench_start)) s"
[[ -z "${SWARM_BENCH_OUT:-}" ]] || cp "$WORK/table" "$SWARM_BENCH_OUT"
finish
