#!/usr/bin/env bash
# `migrate restore` of a Swarm backup onto ANOTHER Swarm through the node map (docs/swarm.md,
# "Restore onto nodes"): a two-node old Swarm (scripts/rig/swarm.sh) with postgres pinned to its
# first node and the app with its volume pinned to its second, backed up; the old Swarm then gone
# (disaster recovery); a restore onto a new two-node Swarm with other hostnames and addresses
# into a fresh folder: the map-file round trip (exit 2, the file filled in, run again), bad maps
# refused with nothing deployed, then every file and row equal, each pinned service on its mapped
# node, the replica counts as before; and a mapped node that does not answer over SSH refused
# with the stack left running as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_swarm.sh"
oldrig=${SWARM_RIG_OLD:-swold}
newrig=${SWARM_RIG_NEW:-swnew}
swarm=$ROOT/scripts/rig/swarm.sh
stack=demo
trap 'rigs_down "$oldrig" "$newrig" || true; cleanup_suite' EXIT
rigs_down "$oldrig" "$newrig" # what a crashed run may have left
quiet() { "$@" >/dev/null; }

# --- both rigs at once (each its own 10.251.X.0/24): what both share (packages, the host's
# engine, the test images) made ready first, so the two `up`s do not race to make it
ensure_packages iproute2 util-linux openssh-server openssh-client docker.io
ensure_engine
docker image inspect migrate-test/postgres:15 migrate-test/busybox:1 >/dev/null 2>&1 || bash "$ROOT/scripts/rig/images.sh"
start=$SECONDS
bash "$swarm" up "$oldrig" 2 >"$WORK/up-$oldrig.log" 2>&1 &
p_old=$!
bash "$swarm" up "$newrig" 2 >"$WORK/up-$newrig.log" 2>&1 &
p_new=$!
wait "$p_old" && urc_old=0 || urc_old=$?
wait "$p_new" && urc_new=0 || urc_new=$?
echo "# both swarms up (in parallel) took $((SECONDS - start)) s"
check "swarm.sh up $oldrig 2 succeeds" test "$urc_old" -eq 0
check "swarm.sh up $newrig 2 succeeds (at the same time)" test "$urc_new" -eq 0
if ((urc_old || urc_new)); then
  cat "$WORK/up-$oldrig.log" "$WORK/up-$newrig.log" >&2
  finish
fi
# Each rig's env sets the same SWARM_* names: the old one's kept under its own names first.
eval "$(bash "$swarm" env "$oldrig")"
old1=${oldrig}1 old2=${oldrig}2
oaddr1=$(field "$SWARM_NODES" "$old1") oaddr2=$(field "$SWARM_NODES" "$old2")
osock1=$SWARM_MANAGER_SOCK osock2=$(field "$SWARM_SOCKS" "$old2")
okeys=(--key "$SWARM_KEY" --known-hosts "$SWARM_KNOWN_HOSTS")
okey=$SWARM_KEY oknown=$SWARM_KNOWN_HOSTS
eval "$(bash "$swarm" env "$newrig")"
new1=${newrig}1 new2=${newrig}2
naddr1=$(field "$SWARM_NODES" "$new1")
nsock1=$SWARM_MANAGER_SOCK nsock2=$(field "$SWARM_SOCKS" "$new2")
nkeys=(--key "$SWARM_KEY" --known-hosts "$SWARM_KNOWN_HOSTS")
nkey=$SWARM_KEY nknown=$SWARM_KNOWN_HOSTS
om() { docker -H "unix://$osock1" "$@"; } # the old manager (node 1)
ow() { docker -H "unix://$osock2" "$@"; } # the old worker (node 2)
nm() { docker -H "unix://$nsock1" "$@"; } # the new manager
nw() { docker -H "unix://$nsock2" "$@"; } # the new worker
check "the two swarms have other addresses" test -n "$oaddr1" -a -n "$naddr1" -a "${oaddr1%.*}" != "${naddr1%.*}"
check "the old manager lists its two nodes Ready" \
  test "$(om node ls --format '{{.Hostname}} {{.Status}}' | sort | tr '\n' ' ')" = "$old1 Ready $old2 Ready "
check "the new manager lists its own two nodes Ready, none of the old" \
  test "$(nm node ls --format '{{.Hostname}} {{.Status}}' | sort | tr '\n' ' ')" = "$new1 Ready $new2 Ready "
check "two separate swarms (other cluster ids)" \
  test "$(om info -f '{{.Swarm.Cluster.ID}}')" != "$(nm info -f '{{.Swarm.Cluster.ID}}')"

# --- the install on the old Swarm: postgres pinned to node 1, the app and its volume pinned to
# node 2, and web (no volume, 2 replicas, anywhere), as an operator deploys it
INST=$WORK/install
demo_install "$INST" "$stack" "$old1" "$old2" 2
start=$SECONDS
check "docker stack deploy on the old swarm succeeds" quiet om stack deploy --resolve-image never -c "$INST/docker-compose.yml" "$stack"
# running DOCKER SERVICE NODE: the service's one task runs on NODE
running() {
  test "$($1 service ps "${stack}_$2" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | cut -d' ' -f1,2)" = "$3 Running"
}
# replicas DOCKER: each service of the stack with its running/wanted replicas, sorted
replicas() { $1 service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}} {{.Mode}} {{.Replicas}}' | sort; }
web_ok() { test "$(replicas "$1" | grep "^${stack}_web ")" = "${stack}_web replicated 2/2"; }
for _ in $(seq 120); do
  running om postgres "$old1" && running om app "$old2" && web_ok om && break
  sleep 0.5
done
check "old: postgres runs on $old1" running om postgres "$old1"
check "old: the app runs on $old2" running om app "$old2"
check "old: web runs 2 of 2 replicas" web_ok om
opg=$(om ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres")
healthy() { test "$($1 inspect -f '{{.State.Health.Status}}' "$2" 2>/dev/null)" = healthy; }
for _ in $(seq 60); do healthy om "$opg" && break; sleep 0.5; done
check "old: postgres on $old1 is healthy" healthy om "$opg"
echo "# deploy on the old swarm took $((SECONDS - start)) s"

# --- the old app's volume on node 2 filled with files of every kind, rows in postgres
ovol=$(ow volume inspect "${stack}_app_data" -f '{{.Mountpoint}}')
mkdir -p "$ovol/uploads/2024" "$ovol/empty dir"
echo "served from node 2" >"$ovol/index.html"
printf 'photo-%s\n' {1..300} >"$ovol/uploads/2024/photo one.jpg"
chown 1234:2345 "$ovol/uploads/2024/photo one.jpg"
chmod 4755 "$ovol/uploads/2024/photo one.jpg"
ln -s uploads/2024 "$ovol/latest"
truncate -s 64M "$ovol/sparse.img"
printf 'data' | dd of="$ovol/sparse.img" bs=1 seek=1000000 conv=notrunc status=none
echo "one file, two names" >"$ovol/hard-a"
ln "$ovol/hard-a" "$ovol/uploads/hard-b"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.origin", b"old node 2")' "$ovol/index.html"
touch -d '2020-01-02 03:04:05.123456789' "$ovol/index.html"
check "old: the files are on node 2's volume (a sparse file, a hard link pair)" \
  test "$(stat -c %h "$ovol/hard-a")" = 2 -a "$(stat -c %b "$ovol/sparse.img")" -lt 1024
om exec "$opg" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 -c "
  create table visits(id serial primary key, note text, at timestamptz default '2024-05-06 07:08:09+00');
  insert into visits(note) select 'v' || g from generate_series(1, 450) g;
  delete from visits where id % 15 = 0;
  create table accounts(email text primary key, balance numeric(12,2));
  insert into accounts select 'user' || g || '@example.org', g * 1.25 from generate_series(1, 37) g;" >/dev/null
# dbstate DOCKER CONTAINER: each table's row count and a digest of its rows, the sequence's value
dbstate() {
  $1 exec "$2" psql -X -q -At -U app -d appdb -v ON_ERROR_STOP=1 -c "
    select 'visits', count(*), md5(string_agg(id || ':' || note || ':' || at, ',' order by id)) from visits;
    select 'accounts', count(*), md5(string_agg(email || ':' || balance, ',' order by email)) from accounts;
    select 'visits_id_seq', last_value from visits_id_seq;"
}
dbstate om "$opg" >"$WORK/db.old"
check "old: 420 visits (a serial up to 450), 37 accounts" \
  test "$(cut -d'|' -f1,2 "$WORK/db.old" | tr '\n' ' ')" = "visits|420 accounts|37 visits_id_seq|450 "
replicas om >"$WORK/replicas.old"
state "$ovol" >"$WORK/vol.old"
# the install's data/ (on the manager, beside its compose file)
mkdir -p "$INST/data/uploads/2024" "$INST/data/cache"
echo "logo" >"$INST/data/uploads/logo.png"
printf 'report %s\n' {1..200} >"$INST/data/uploads/2024/report.pdf"
echo '{"theme": "old"}' >"$INST/data/settings.json"
ln -s uploads/logo.png "$INST/data/latest-logo"
touch -d '2021-03-04 05:06:07' "$INST/data/settings.json"
state "$INST/data" >"$WORK/data.old"

# --- the backup, taken from the old manager (the app's volume read on node 2 over SSH)
echo "correct horse battery staple" >"$WORK/pw"
start=$SECONDS
DOCKER_HOST=unix://$osock1 "$BIN/migrate" backup create --to-path "$INST" --repo "$WORK/repo" --password-file "$WORK/pw" \
  --json --quiet "${okeys[@]}" </dev/null >"$WORK/b.json" 2>"$WORK/b.err" && brc=0 || brc=$?
echo "# backup of the old stack took $((SECONDS - start)) s"
check "backup create of the old stack: exit 0, ready" bash -c "test $brc -eq 0 && test \"\$(jq -r .status '$WORK/b.json')\" = ready"
((brc == 0)) || cat "$WORK/b.err"
id=$(jq -r .id "$WORK/b.json")
DOCKER_HOST=unix://$osock1 "$BIN/migrate" backup status "$id" --to-path "$INST" --repo "$WORK/repo" \
  --password-file "$WORK/pw" --json </dev/null >"$WORK/status.json" 2>/dev/null || true
check "the manifest holds the app's volume on $old2 and both tables" test \
  "$(jq -r '[.manifest.swarm.volumes[] | .name + "@" + .node] + [.manifest.db.tables["public.visits"], .manifest.db.tables["public.accounts"] | tostring] | join(" ")' "$WORK/status.json")" \
  = "${stack}_app_data@$old2 420 37"
check "nothing of the stack on the new swarm yet" test -z "$(nm stack ls --format '{{.Name}}')"
# the same backup as one file (the last restore below reads it instead of the repository)
"$BIN/migrate" backup export "$id" --output "$WORK/backup.tar" --to-path "$INST" --repo "$WORK/repo" \
  --password-file "$WORK/pw" </dev/null >/dev/null 2>"$WORK/x.err" && xrc=0 || xrc=$?
check "backup export: exit 0, the app's volume of $old2 a member of the file" bash -c \
  "test $xrc -eq 0 && tar -tf '$WORK/backup.tar' 2>/dev/null | grep -qx 'volumes/$old2/${stack}_app_data.tar'"
((xrc == 0)) || cat "$WORK/x.err"

# --- migrate --from of the stack with --stop-old: the old manager over SSH (the old install's
# folder there), onto the new Swarm as the new release's stack demo2 (its volumes named after it),
# the new release's compose file placing its services as the old one did; the new release's
# data/ already holds files of its own, which the merge keeps (rsync -a's rules: the oracle)
NEWREL=$WORK/release2
demo_install "$NEWREL" demo2 "$old1" "$old2" 2
echo 2.0.0 >"$NEWREL/VERSION"
mkdir -p "$NEWREL/data/uploads"
echo "shipped with 2.0" >"$NEWREL/data/new-only.txt"
echo '{"theme": "new default"}' >"$NEWREL/data/settings.json"
echo "older logo" >"$NEWREL/data/uploads/logo.png"
cp -a "$NEWREL/data" "$WORK/data.oracle"
# (--modify-window=-1: times compared to the nanosecond, as migrate's; see local_migrate.sh)
rsync -a --force --modify-window=-1 "$INST/data/" "$WORK/data.oracle/"
state "$WORK/data.oracle" >"$WORK/data.oracle.state"
cat "$oknown" "$nknown" >"$WORK/known_hosts.both"  # one file for the old and the new nodes
printf 'nodes:\n  %s: {key: %s}\n  %s: {key: %s}\n' "$new1" "$nkey" "$new2" "$nkey" >"$WORK/new-nodes.yml"
start=$SECONDS
DOCKER_HOST=unix://$nsock1 "$BIN/migrate" --from "root@$oaddr1" --from-path "$INST" --to-path "$NEWREL" --yes --json \
  --key "$okey" --known-hosts "$WORK/known_hosts.both" --nodes-file "$WORK/new-nodes.yml" \
  --node-map "$old1=$new1" --node-map "$old2=$new2" --resolve-image never --stop-old </dev/null >"$WORK/m.out" 2>"$WORK/m.err" &&
  mrc=0 || mrc=$?
echo "# migrate --from of the stack took $((SECONDS - start)) s"
check "migrate --from of the stack: exit 0, result ok" bash -c "test $mrc -eq 0 && test \"\$(jq -r .result '$WORK/m.out')\" = ok"
((mrc == 0)) || cat "$WORK/m.err"
jq -r '.steps[]? | "#   \(.name): \(.seconds) s"' "$WORK/m.out" 2>/dev/null || true
running2() { local stack=demo2; running "$@"; }  # (running reads $stack)
check "the new release runs as the stack demo2: the app on $new2" running2 nm app "$new2"
check "and postgres on $new1" running2 nm postgres "$new1"
mvol=$(nw volume inspect demo2_app_data -f '{{.Mountpoint}}' 2>/dev/null || true)
check "the app's volume, named after the new stack, equals the old one attribute for attribute" \
  diff "$WORK/vol.old" <(state "${mvol:-/nonexistent}")
mpg=$(nm ps -q --filter "label=com.docker.swarm.service.name=demo2_postgres")
check "every table and the sequence equal the old database's" diff "$WORK/db.old" <(dbstate nm "$mpg" 2>&1)
check "its compose file names the new nodes" \
  test "$(grep -c -e "node.hostname == $new1]" -e "node.hostname == $new2]" "$NEWREL/docker-compose.yml")" = 2
check "its report is in the new release's migration/<timestamp>/" \
  test "$(jq -r .result "$(jq -r .migration_dir "$WORK/m.out")/report.json" 2>/dev/null)" = ok
check "data/ is the old one merged into the new release's, as rsync -a --force makes it" \
  diff "$WORK/data.oracle.state" <(state "$NEWREL/data")
check "the new release's own file is kept" test "$(cat "$NEWREL/data/new-only.txt" 2>/dev/null)" = "shipped with 2.0"
check "data/ before the merge is kept in the run folder" \
  test "$(cat "$(jq -r .migration_dir "$WORK/m.out")/data.backup/settings.json" 2>/dev/null)" = '{"theme": "new default"}'
# --stop-old: the old stack's services scaled to 0, and the report says how to bring them back
check "--stop-old: every service of the old stack is scaled to 0" \
  test "$(replicas om | awk '{print $3}' | sort -u | tr '\n' ' ')" = "0/0 "
back=$(jq -r '.next_steps[] | select(test("to bring them back")) | sub(".*to bring them back: "; "")' "$WORK/m.out" 2>/dev/null)
check "the report names the command that scales them back" grep -q "^docker service scale .*${stack}_app=1" <<<"$back"
# (the operator runs it on the old manager: the old stack serves again as it did)
om ${back#docker } >/dev/null 2>&1 || true
for _ in $(seq 120); do running om app "$old2" && running om postgres "$old1" && web_ok om && break; sleep 0.5; done
check "scaled back, the old stack runs as before" diff "$WORK/replicas.old" <(replicas om)

# --- the old Swarm is gone (disaster recovery): the restore has the backup and the new Swarm only
start=$SECONDS
check "swarm.sh down $oldrig succeeds" bash "$swarm" down "$oldrig"
echo "# old swarm down took $((SECONDS - start)) s"

# --- the restore onto the new Swarm into a fresh folder; DOCKER_HOST is the new manager
DIR=$WORK/restored
MAP=$DIR/restore-node-map.json
rst() {
  DOCKER_HOST=unix://$nsock1 "$BIN/migrate" restore "$id" --to-path "$DIR" --repo "$WORK/repo" \
    --password-file "$WORK/pw" --yes --json "${nkeys[@]}" --resolve-image never "$@" </dev/null
}
# untouched: nothing of the stack deployed on the new swarm, no volume of it on either node
untouched() {
  test -z "$(nm stack ls --format '{{.Name}}' | grep -x "$stack")" &&
    test -z "$(nm service ls -q --filter "label=com.docker.stack.namespace=$stack")" &&
    ! nw volume inspect "${stack}_app_data" >/dev/null 2>&1 &&
    ! nm volume inspect "${stack}_app_data" >/dev/null 2>&1 &&
    ! nm volume inspect "${stack}_postgres_data" >/dev/null 2>&1
}

# Without a map: the old nodes the restore needs (volumes, the database, constraints: both) are
# written into DIR/restore-node-map.json, their `new` empty; exit 2; nothing deployed.
start=$SECONDS
rst >"$WORK/r0.out" 2>"$WORK/r0.err" && rrc=0 || rrc=$?
echo "# restore without a map took $((SECONDS - start)) s"
check "no map: exit 2" test "$rrc" -eq 2
check "no map: stderr names the map file to fill in" grep -qF "$MAP" "$WORK/r0.err"
if ((rrc != 2)) || ! grep -qF "$MAP" "$WORK/r0.err"; then cat "$WORK/r0.err"; fi
check "the map file lists both old nodes with address and role, new empty" test \
  "$(jq -r '.nodes | sort_by(.hostname) | map("\(.hostname) \(.address) \(.role) [\(.new)]") | join(", ")' "$MAP" 2>/dev/null)" \
  = "$old1 $oaddr1 manager [], $old2 $oaddr2 worker []"
check "no map: nothing deployed on the new swarm" untouched

# Bad maps: one sentence each, exit 2, nothing deployed.
rst --node-map "$old1=nosuchnode" --node-map "$old2=$new2" >/dev/null 2>"$WORK/r1.err" && rrc=0 || rrc=$?
# refused RC ERR NAME: exit 2, the error names NAME, and it is not a usage error (`see --help`)
refused() { test "$1" -eq 2 && grep -qF -- "$3" "$2" && ! grep -qF -- "--help" "$2"; }
check "a new node not in the swarm: exit 2 naming it" refused "$rrc" "$WORK/r1.err" nosuchnode
check "a new node not in the swarm: nothing deployed" untouched
rst --node-map "$old1=$new1" --node-map "$old2=$new1" >/dev/null 2>"$WORK/r2.err" && rrc=0 || rrc=$?
check "two old nodes onto one new: exit 2 naming it" refused "$rrc" "$WORK/r2.err" "$new1"
check "two old nodes onto one new: nothing deployed" untouched

# The operator fills in the file (node 1 by the new node's address, node 2 by its hostname) and
# runs the same restore again with it.
if [[ -f "$MAP" ]]; then
  jq --arg o1 "$old1" --arg n1 "$naddr1" --arg o2 "$old2" --arg n2 "$new2" \
    '.nodes |= map(if .hostname == $o1 then .new = $n1 elif .hostname == $o2 then .new = $n2 else . end)' \
    "$MAP" >"$WORK/map.filled" && cp "$WORK/map.filled" "$MAP"
fi
# SIGTERM while the database is being deployed alone (a docker shim holds `stack deploy` back):
# the restore stops there, says what it replaced (nothing) and that running it again resumes it;
# nothing is deployed. The restore below is that re-run.
mkdir -p "$WORK/shim"
cat >"$WORK/shim/docker" <<EOF
#!/usr/bin/env bash
if [[ "\${1:-} \${2:-}" == "stack deploy" ]]; then touch "$WORK/shim/at-deploy"; sleep 6; fi
exec "$(command -v docker)" "\$@"
EOF
chmod +x "$WORK/shim/docker"
# (the program itself in the background, not rst: a function's subshell would take the signal)
DOCKER_HOST=unix://$nsock1 PATH="$WORK/shim:$PATH" "$BIN/migrate" restore "$id" --to-path "$DIR" --repo "$WORK/repo" \
  --password-file "$WORK/pw" --yes --json "${nkeys[@]}" --resolve-image never --node-map-file "$MAP" \
  </dev/null >"$WORK/rt.out" 2>"$WORK/rt.err" &
victim=$!
for _ in $(seq 600); do [[ -e "$WORK/shim/at-deploy" ]] && break; sleep 0.2; done
kill -TERM "$victim"
set +e
wait "$victim"
trc=$?
set -e
check "SIGTERM during a Swarm restore (the database being deployed): exit 1" test "$trc" -eq 1
check "it says it was interrupted, that it replaced nothing, and that a re-run resumes it" bash -c \
  "grep -q 'restore interrupted (SIGTERM): no volume, no data/ and no database was replaced' '$WORK/rt.err' &&
   grep -q 'running migrate restore again resumes this restore' '$WORK/rt.err'"
grep -q 'no volume, no data/ and no database was replaced' "$WORK/rt.err" || tail -3 "$WORK/rt.err"
check "its report says it was interrupted" grep -q "interrupted (SIGTERM)" "$(ls -d "$DIR"/restore/2*/ | tail -1)/report.json"
check "the interrupted restore deployed nothing on the new swarm" untouched

start=$SECONDS
rst --node-map-file "$MAP" >"$WORK/r3.out" 2>"$WORK/r3.err" && rrc=0 || rrc=$?
echo "# restore onto the new swarm took $((SECONDS - start)) s"
check "with the map filled in: exit 0, result ok" bash -c "test $rrc -eq 0 && test \"\$(jq -r .result '$WORK/r3.out')\" = ok"
((rrc == 0)) || cat "$WORK/r3.err"
jq -r '.steps[]? | "#   \(.name): \(.seconds) s"' "$WORK/r3.out" 2>/dev/null || true

# --- what the operator checks afterwards
check "the stack $stack is deployed on the new swarm" test "$(nm stack ls --format '{{.Name}}' | grep -x "$stack")" = "$stack"
check "postgres runs on $new1 (the node $old1 was mapped to by address)" running nm postgres "$new1"
check "the app runs on $new2 (the node $old2 was mapped to)" running nm app "$new2"
check "web runs 2 of 2 replicas" web_ok nm
check "every service has its replica count as before" diff "$WORK/replicas.old" <(replicas nm)
for f in VERSION .env; do check "the fresh folder has the backup's $f" cmp -s "$INST/$f" "$DIR/$f"; done
check "the compose file's constraints name the new nodes" \
  test "$(grep -c -e "node.hostname == $new1]" -e "node.hostname == $new2]" "$DIR/docker-compose.yml" 2>/dev/null)" = 2
check "nothing else in the compose file differs from the old one" diff \
  <(sed -e "s/node.hostname == $old1]/node.hostname == $new1]/" -e "s/node.hostname == $old2]/node.hostname == $new2]/" "$INST/docker-compose.yml") \
  "$DIR/docker-compose.yml"
nvol=$(nw volume inspect "${stack}_app_data" -f '{{.Mountpoint}}' 2>/dev/null || true)
check "the app's volume is on $new2" test -n "$nvol"
check "and not on $new1" bash -c "! docker -H unix://$nsock1 volume inspect ${stack}_app_data >/dev/null 2>&1"
check "the volume is the stack's (its label)" \
  test "$(nw volume inspect -f '{{index .Labels "com.docker.stack.namespace"}}' "${stack}_app_data" 2>/dev/null)" = "$stack"
check "the volume on $new2 equals the old one, attribute for attribute" diff "$WORK/vol.old" <(state "${nvol:-/nonexistent}")
check "data/ equals the old install's, attribute for attribute" diff "$WORK/data.old" <(state "$DIR/data")
same_file() { local a b; a=$(stat -c %i "$1") && b=$(stat -c %i "$2") && test "$a" = "$b"; }
check "the hard link pair is still one file" same_file "$nvol/hard-a" "$nvol/uploads/hard-b"
check "the sparse file is still sparse" test "$(stat -c %b "$nvol/sparse.img" 2>/dev/null || echo 999999)" -lt 1024
check "the extended attribute is kept" test "$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.origin").decode())' \
  "$nvol/index.html" 2>/dev/null)" = "old node 2"
# (postgres deployed alone for the replay, then with the stack: one running container, answering)
for _ in $(seq 60); do
  npg=$(nm ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres")
  [[ -n "$npg" && "$npg" != *$'\n'* ]] && dbstate nm "$npg" >/dev/null 2>&1 && break
  sleep 0.5
done
check "every table's rows and the sequence's value equal the old database's" diff "$WORK/db.old" <(dbstate nm "$npg" 2>&1)
napp=$(nw ps -q --filter "label=com.docker.swarm.service.name=${stack}_app")
check "the app on $new2 reaches postgres on $new1 over the overlay network" \
  nw exec "$napp" sh -c 'nc -w 5 tasks.postgres 5432 </dev/null'
run=$(jq -r .migration_dir "$WORK/r3.out" 2>/dev/null || true)
check "the restore ran in $DIR/restore/<timestamp>/" test "$(dirname "${run:-x}")" = "$DIR/restore"
check "its report.json says ok" test "$(jq -r .result "$run/report.json" 2>/dev/null)" = ok

# --- a mapped node that does not answer over SSH, or answers as another node, and a dry run:
# nothing is stopped or changed
nw ps -q --no-trunc --filter "label=com.docker.swarm.service.name=${stack}_app" >"$WORK/app.before"
nm ps -q --no-trunc --filter "label=com.docker.swarm.service.name=${stack}_postgres" >"$WORK/pg.before"
printf 'nodes:\n  %s: {port: 2}\n' "$new2" >"$WORK/away.yml"
rst --node-map-file "$MAP" --nodes-file "$WORK/away.yml" >/dev/null 2>"$WORK/r4.err" && rrc=0 || rrc=$?
check "$new2 unreachable: exit 1 naming it" bash -c \
  "test $rrc -eq 1 && grep -q '$new2' '$WORK/r4.err' && grep -q 'cannot be reached over SSH' '$WORK/r4.err'"
((rrc == 1)) || cat "$WORK/r4.err"
# a nodes file that sends node 2 to node 1's address: the node answers as another Swarm node
printf 'nodes:\n  %s: {address: %s}\n' "$new2" "$naddr1" >"$WORK/other.yml"
rst --node-map-file "$MAP" --nodes-file "$WORK/other.yml" >/dev/null 2>"$WORK/r6.err" && rrc=0 || rrc=$?
check "$new2's address answering as $new1: exit 1 naming both" bash -c \
  "test $rrc -eq 1 && grep -q 'node $new2: root@$naddr1.* answers as Swarm node' '$WORK/r6.err'"
((rrc == 1)) || cat "$WORK/r6.err"
# a dry run over the running stack: the plan, and nothing changed
rst --node-map-file "$MAP" --dry-run >"$WORK/r7.out" 2>"$WORK/r7.err" && rrc=0 || rrc=$?
check "--dry-run over the running stack: exit 0, the stack removed and deployed again in its plan" bash -c \
  "test $rrc -eq 0 && jq -r '.steps[] | select(.name == \"plan\") | .detail' '$WORK/r7.out' | grep -q 'removed, then deployed again'"
check "the app still runs on $new2, the same container" bash -c \
  "test -s '$WORK/app.before' && diff -q '$WORK/app.before' <(docker -H unix://$nsock2 ps -q --no-trunc --filter label=com.docker.swarm.service.name=${stack}_app)"
check "postgres still runs on $new1, the same container" bash -c \
  "test -s '$WORK/pg.before' && diff -q '$WORK/pg.before' <(docker -H unix://$nsock1 ps -q --no-trunc --filter label=com.docker.swarm.service.name=${stack}_postgres)"
check "web still runs 2 of 2" web_ok nm
check "the volume on $new2 is unchanged" diff "$WORK/vol.old" <(state "${nvol:-/nonexistent}")

# --- the same backup restored again over the running stack, from its exported file (no
# repository): what was written since is gone, what it replaced is kept (the volume's tree beside
# it, the database's dump in the run folder)
echo "written after the backup" >"$nvol/late.txt"
nm exec "$npg" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 \
  -c "insert into visits(note) values ('late'); create table late(x int);" >/dev/null
start=$SECONDS
DOCKER_HOST=unix://$nsock1 "$BIN/migrate" restore "$WORK/backup.tar" --to-path "$DIR" --yes --json "${nkeys[@]}" \
  --resolve-image never --node-map-file "$MAP" </dev/null >"$WORK/r5.out" 2>"$WORK/r5.err" && rrc=0 || rrc=$?
echo "# restore over the running stack took $((SECONDS - start)) s"
check "from the file over the running stack: exit 0, result ok" bash -c "test $rrc -eq 0 && test \"\$(jq -r .result '$WORK/r5.out')\" = ok"
((rrc == 0)) || cat "$WORK/r5.err"
jq -r '.steps[]? | "#   \(.name): \(.seconds) s"' "$WORK/r5.out" 2>/dev/null || true
check "the file written since is gone: the volume equals the backup's again" diff "$WORK/vol.old" <(state "$nvol")
run5=$(jq -r .migration_dir "$WORK/r5.out" 2>/dev/null || true)
check "the tree it replaced is kept beside the volume, named after the restore's run" \
  test -f "${nvol}.before-$(basename "${run5:-x}")/late.txt"
check "and the first restore's kept tree is gone (one kept tree per volume)" \
  test "$(ls -d "${nvol}".before-* | wc -l)" = 1
for _ in $(seq 60); do
  npg=$(nm ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres")
  [[ -n "$npg" && "$npg" != *$'\n'* ]] && dbstate nm "$npg" >/dev/null 2>&1 && break
  sleep 0.5
done
check "the rows written since are gone: every table equals the old database's" diff "$WORK/db.old" <(dbstate nm "$npg" 2>&1)
check "and the table made since" test "$(nm exec "$npg" psql -X -At -U app -d appdb -c "select to_regclass('public.late') is null")" = t
check "the database before it is kept in the run folder (with the late table)" \
  bash -c "pg_restore -l '${run5:-/x}/target-db.dump' | grep -q 'TABLE public late'"
check "the app runs on $new2 again" running nm app "$new2"
check "web runs 2 of 2 again" web_ok nm
finish
