#!/usr/bin/env bash
# migrate backup create / migrate restore of a stack on Docker Swarm as the operator runs them,
# against the by-hand steps they replace, side by side in one run, each into its own folder
# repository. Two rigs (scripts/rig/swarm.sh): the old Swarm (2 nodes) holds the demo stack
# (postgres pinned to node 1, the app with its volume app_data pinned to node 2, web x2); the
# new Swarm (2 nodes, other hostnames and addresses) is the restore's target.
#   backup by hand:  ssh node2 docker run --rm --network none --log-driver none \
#                      -v demo_app_data:/v:ro busybox tar -C /v -cf - .
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
# hand with file mtimes in whole seconds and without directory mtimes: busybox tar keeps no
# more), data/, every table's row count, each pinned service on its new node. Printed beside the
# table: each side's step times (migrate restore's from its --json report, the by-hand scripts'
# from marks), when each docker, restic and SSH connection of one more migrate backup started
# (strace), and any run that failed (run again, twice at most; not in the medians).
# Usage: bench/swarm.sh [--quick]   (env: DIRS FILES BIG BIG_MB SCALE REPS, MIGRATE_BIN,
# HAND_RUN_OPTS, TRACE=0, SWARM_BENCH_BASHRC=1, KEEP_WORK=1). Needs root and what
# scripts/test.sh installs; about 10 minutes on 2 cores (--quick: 3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-10} FILES=${FILES:-50} BIG=${BIG:-1} BIG_MB=${BIG_MB:-8} SCALE=${SCALE:-1} REPS=${REPS:-1}; fi
DIRS=${DIRS:-40} FILES=${FILES:-100} BIG=${BIG:-2} BIG_MB=${BIG_MB:-128} SCALE=${SCALE:-5} REPS=${REPS:-3}
. "$root/tests/e2e/lib.sh"
. "$root/tests/e2e/lib_swarm.sh"
work=$WORK
. "$root/bench/lib.sh"

oldrig=${SWARM_RIG_OLD:-sbold}
newrig=${SWARM_RIG_NEW:-sbnew}
swarm=$root/scripts/rig/swarm.sh
stack=demo
trap 'rigs_down "$oldrig" "$newrig" || true; cleanup_suite' EXIT
rigs_down "$oldrig" "$newrig" # what a crashed run may have left
bench_start=$SECONDS

# --- both rigs at once (as tests/e2e/swarm_restore.sh). The nodes share the host's file system,
# root's ~/.bashrc included, which scripts/rig/sshd.sh keeps bash from sourcing (SHLVL=1; on this
# test machine it runs `pyenv init`, 0.5-1.5 s a command), for both sides alike.
# SWARM_BENCH_BASHRC=1 keeps root's ~/.bashrc.
[[ -z "${SWARM_BENCH_BASHRC:-}" ]] || export RIG_SSHD_BASHRC=1
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

# --- the install on the old Swarm, deployed as the Swarm suites deploy it
INST=$WORK/install
demo_install "$INST" "$stack" "$old1" "$old2" 2 # tests/e2e/lib_swarm.sh: web with 2 replicas
echo "the install's own data/" >"$INST/data/README"
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

# docker run on a node: no network (the rig's engines have no bridge; a tar needs none), and no
# log: with the engine's default json-file driver every byte the tar writes to stdout is also
# written, JSON-escaped, into the container's log (288 MB took 16.5 s instead of 3.6-5.6 s here).
# HAND_RUN_OPTS="--network none" measures the recipe without that flag.
HAND_RUN_OPTS=${HAND_RUN_OPTS:---network none --log-driver none}
cat >"$WORK/m-backup.sh" <<SH
DOCKER_HOST=unix://$osock1 exec "$BIN/migrate" backup create --repo "$RM" --password-file "$WORK/pw" \
  --key "$okey" --known-hosts "$okh" --to-path "$INST" --json --quiet </dev/null
SH
# Each by-hand script marks its steps on stderr (mark NAME EPOCH: NAME ended; hsteps reads them).
marks='mark() { echo "mark $1 $(date +%s.%N)" >&2; }; mark start'
cat >"$WORK/h-backup.sh" <<SH
set -euo pipefail
$marks
cd "$INST"
$ossh root@$oaddr2 docker run --rm $HAND_RUN_OPTS -v ${stack}_app_data:/v:ro migrate-test/busybox:1 tar -C /v -cf - . |
  restic -r "$RH" backup --quiet --tag app --stdin --stdin-filename app_data.tar >/dev/null
mark volume
$ossh root@$oaddr1 'docker exec \$(docker ps -q -f $pgsvc) pg_dump -Fc -U app appdb' |
  restic -r "$RH" backup --quiet --tag db --stdin --stdin-filename db.dump >/dev/null
mark database
restic -r "$RH" backup --quiet --tag files VERSION .env docker-compose.yml data >/dev/null
mark install-folder
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
mark install-folder
restic -r "$RH" dump --tag app latest /app_data.tar |
  $nssh root@$naddr2 docker run --rm -i $HAND_RUN_OPTS -v ${stack}_app_data:/v migrate-test/busybox:1 tar -C /v -xf -
mark volume
docker stack deploy --resolve-image never -c docker-compose.yml $stack >/dev/null
until pg=\$(docker ps -q -f $pgsvc) && [ -n "\$pg" ] && docker exec "\$pg" pg_isready -q -h 127.0.0.1 -U app -d appdb; do sleep 0.5; done
mark deploy,postgres-up
restic -r "$RH" dump --tag db latest /db.dump | docker exec -i "\$pg" pg_restore --clean --if-exists -U app -d appdb
mark database
until [ "\$(docker service ls -f label=com.docker.stack.namespace=$stack --format '{{.Replicas}}' | awk -F/ '\$1 == \$2' | wc -l)" = 3 ]; do sleep 0.5; done
mark services-up
SH
{
  echo "set -euo pipefail"
  echo "$marks"
  echo "export DOCKER_HOST=unix://$nsock1"
  cat "$WORK/h-steps.sh"
} >"$WORK/h-restore.sh"
{
  echo "set -euo pipefail"
  echo "$marks"
  echo "export DOCKER_HOST=unix://$nsock1"
  cat <<SH
docker stack rm $stack >/dev/null
until [ -z "\$(docker ps -aq -f label=com.docker.stack.namespace=$stack)\$($nssh root@$naddr2 docker ps -aq -f label=com.docker.stack.namespace=$stack)\$(docker network ls -q -f label=com.docker.stack.namespace=$stack)" ]; do sleep 0.5; done
$nssh root@$naddr2 docker volume rm ${stack}_app_data >/dev/null
mark stop-stack,volume-rm
SH
  cat "$WORK/h-steps.sh"
} >"$WORK/h-rerun.sh"
cp "$WORK/m-restore.sh" "$WORK/m-rerun.sh"

fresh_repos() {
  rm -rf "$RM" "$RH"
  # The same chunker parameters in both: content-defined chunking with another polynomial cuts
  # the bench's large files (1 MiB periods) elsewhere, and one repository may then store
  # hundreds of MB more for the same change (measured: 15 MB against 166-418 MB).
  restic -r "$RH" init >/dev/null 2>&1
  restic -r "$RM" init --from-repo "$RH" --from-password-file "$RESTIC_PASSWORD_FILE" --copy-chunker-params >/dev/null 2>&1
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

# --- what every restore must give back. By hand, busybox tar keeps mtimes in whole seconds and
# no directory's mtime (the files extracted into it change it): compared without those.
# hstate DIR: the tree's state as the by-hand restore can give it back
hstate() { python3 "$root/tests/tools/treestate.py" "$1" --no-dir-times | sed -E "s/ ([0-9]+)[0-9]{9} '/ \\1 '/"; }
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
  local tag=${name// /-}
  if [[ $side == m ]]; then
    state "$nvol" >"$WORK/vol.$tag"
    check "$name: the volume on $new2 equals the old one" diff -q "$WORK/vol.old" "$WORK/vol.$tag"
    check "$name: data/ too" diff -q "$WORK/data.old" <(state "$DIR/data")
  else
    hstate "$nvol" >"$WORK/vol.$tag"
    check "$name: the volume on $new2 equals the old one (file mtimes in seconds, no directory mtimes)" \
      diff -q "$WORK/vol.old.h" "$WORK/vol.$tag"
    check "$name: data/ too" diff -q "$WORK/data.old" <(state "$HDIR/data")
  fi
  check "$name: every table's rows" diff -q "$WORK/db.old" <(dbstate nm "$npg")
  check "$name: postgres on $new1, the app on $new2, web 2/2" test \
    "$(nm service ps -f desired-state=running --format '{{.Name}} {{.Node}}' "${stack}_postgres" "${stack}_app" | sort | tr '\n' ' ')" \
    = "${stack}_app.1 $new2 ${stack}_postgres.1 $new1 "
}

# alternate_each CASE H_PREP M_PREP: as bench/lib.sh's alternate, with each side's own prep
# before it (eval'd, not timed) and verify after it (not timed). A run that fails is recorded in
# $WORK/failures (printed with the results) and run again from its prep, twice at most; a failed
# restore over the running stack is first resumed to its end (the same command, not timed), so
# that the next try starts again from a running stack.
alternate_each() {
  local case=$1 h_prep=$2 m_prep=$3 i t try
  for ((i = 1; i <= REPS; i++)); do
    local order="h m"
    ((i % 2 == 0)) && order="m h"
    for t in $order; do
      for ((try = 1; ; try++)); do
        if [[ $t == h ]]; then eval "$h_prep"; else eval "$m_prep"; fi
        sync
        sleep 1
        if /usr/bin/time -f "%e %M" -o "$work/$t-$case-$i" bash "$WORK/$t-$case.sh" \
          >"$work/$t-$case-$i.out" 2>"$work/$t-$case-$i.err"; then break; fi
        echo "$t-$case-$i, try $try: $(grep -v '"event":"progress"' "$work/$t-$case-$i.err" | grep -v '^Command exited' | tail -1)" |
          tee -a "$WORK/failures" >&2
        ((try < 3)) || die "$t-$case-$i failed 3 times"
        if [[ $case == rerun ]]; then bash "$WORK/$t-$case.sh" >/dev/null 2>&1 || true; fi
      done
      verify "$t" "$case $i $([[ $t == h ]] && echo by-hand || echo migrate)" >>"$WORK/checks"
    done
  done
  summarize "$case"
}

dbstate om "$opg" >"$WORK/db.old"
: >"$WORK/table"
: >"$WORK/checks"
: >"$WORK/failures"
log "backups ($REPS rounds each)"
run_backup first fresh_repos
run_backup second touch_set
# the state every restore must give back: the volume after the last touch
state "$ovol" >"$WORK/vol.old"
hstate "$ovol" >"$WORK/vol.old.h"
jq -r .id "$work/m-second-$REPS.out" >"$WORK/id"
cp "$work/m-second-$REPS.out" "$WORK/backup.json"
# One more migrate backup (not in the table), under strace when there is one: when each docker,
# restic and SSH connection started, from the command's start (TRACE=0: none).
if [[ ${TRACE:-1} != 0 ]] && command -v strace >/dev/null; then
  strace -f -tt --seccomp-bpf -e trace=execve,connect -o "$WORK/trace" bash "$WORK/m-backup.sh" >/dev/null 2>&1 ||
    strace -f -tt -e trace=execve,connect -o "$WORK/trace" bash "$WORK/m-backup.sh" >/dev/null 2>&1 || true
  python3 - "$WORK/trace" >"$WORK/trace.txt" <<'PY' || true
import re, sys
t0 = None
out = []
def secs(ts):
    h, m, s = ts.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)
for line in open(sys.argv[1]):
    m = re.match(r"(\d+)\s+(\d\d:\d\d:[\d.]+) (.*)", line)
    if not m:
        continue
    t = secs(m.group(2))
    if t0 is None:
        t0 = t
    rest = m.group(3)
    last = t
    e = re.match(r'execve\("[^"]*/(restic|docker|migrate)", \[(.*?)\]', rest)
    if e and "= -1" not in rest:
        args = re.findall(r'"((?:[^"\\]|\\.)*)"', e.group(2))[1:]
        if e.group(1) == "restic":
            verb = next((a for a in args if a in ("snapshots", "backup", "init", "unlock", "forget", "version")), "?")
            name = args[args.index("--stdin-filename") + 1] if "--stdin-filename" in args else ""
            what = "restic %s %s" % (verb, name)
        elif e.group(1) == "docker":
            what = "docker " + " ".join(a for a in args if not a.startswith("-H") and "unix://" not in a)[:60]
        else:
            what = "migrate " + " ".join(args[:2])
        if not out or out[-1][1] != what or t - t0 - out[-1][0] > 0.1:
            out.append((t - t0, what))
    c = re.search(r'connect\(\d+, \{sa_family=AF_INET, sin_port=htons\(22\), sin_addr=inet_addr\("([\d.]+)"\)', rest)
    if c:
        out.append((t - t0, "ssh to " + c.group(1)))
for dt, what in out:
    print("%6.2f  %s" % (dt, what))
if t0 is not None:
    print("%6.2f  end" % (last - t0))
PY
fi
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

# hsteps FILE...: the by-hand scripts' marks, each step's median seconds
hsteps() {
  python3 - "$@" <<'PY'
import statistics, sys
names, times = [], {}
for f in sys.argv[1:]:
    prev = None
    for line in open(f):
        w = line.split()
        if len(w) != 3 or w[0] != "mark":
            continue
        t = float(w[2])
        if prev is not None:
            if w[1] not in times:
                names.append(w[1])
            times.setdefault(w[1], []).append(t - prev)
        prev = t
for n in names:
    print("%s %.2f" % (n, statistics.median_low(times[n])))
PY
}

echo
echo "### Swarm: migrate backup/restore vs the by-hand steps: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size) in the app's volume on node 2, pgbench scale $SCALE ($db_size), median of $REPS (docker run by hand: $HAND_RUN_OPTS)"
echo
echo "| case | by hand s | migrate s | ratio | by hand peak RSS MiB | migrate peak RSS MiB |"
echo "|---|---|---|---|---|---|"
cat "$WORK/table"
echo
echo "by hand, backup steps (median s): first / second"
paste -d' ' <(hsteps "$work"/h-first-*.err) <(hsteps "$work"/h-second-*.err | cut -d' ' -f2) | sed 's/^/  /'
echo "by hand, restore steps (median s): onto the new swarm"
hsteps "$work"/h-restore-*.err | sed 's/^/  /'
echo "over the running stack:"
hsteps "$work"/h-rerun-*.err | sed 's/^/  /'
echo "migrate restore's steps, onto the new swarm (median s):"
steps "$work"/m-restore-*.out | sed 's/^/  /'
echo "over the running stack:"
steps "$work"/m-rerun-*.out | sed 's/^/  /'
if [[ -s "$WORK/trace.txt" ]]; then
  echo "one more migrate backup (unchanged volume) under strace: s from its start"
  sed 's/^/  /' "$WORK/trace.txt"
fi
echo "the backup's JSON (second backup, last round):"
jq -c 'del(.manifest)?' "$WORK/backup.json" | cut -c1-2000
if [[ -s "$WORK/failures" ]]; then
  echo
  echo "runs that failed (each run again from its prep; not in the medians):"
  sed 's/^/  /' "$WORK/failures"
fi
echo
cat "$WORK/checks"
echo "# whole bench: $((SECONDS - bench_start)) s"
finish
