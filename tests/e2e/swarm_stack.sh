#!/usr/bin/env bash
# A stack on a Docker Swarm (docs/swarm.md): the rig (scripts/rig/swarm.sh: a 2-node swarm on
# this machine), an install deployed as a stack pinned across its nodes, SSH into a node with the
# rig's key, `migrate check` seeing the stack, its nodes and where each service runs; and
# nothing of the rig left after `down`.
# SWARM_RECORD=DIR also saves the docker CLI's outputs against the deployed stack into DIR
# (tests/data/swarm/ was made so; its README says which file is which command).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_swarm.sh"
rig=${SWARM_RIG:-migswrig}
swarm=$ROOT/scripts/rig/swarm.sh
stack=demo
trap 'bash "$swarm" down "$rig" >/dev/null 2>&1 || true; cleanup_suite' EXIT
bash "$swarm" down "$rig" >/dev/null 2>&1  # what a crashed run may have left

start=$SECONDS
check "swarm.sh up $rig 2 succeeds" bash "$swarm" up "$rig" 2
echo "# swarm up took $((SECONDS - start)) s"
eval "$(bash "$swarm" env "$rig")"
n1=${rig}1
n2=${rig}2
addr1=$(tr ' ' '\n' <<<"$SWARM_NODES" | sed -n "s/^$n1=//p")
addr2=$(tr ' ' '\n' <<<"$SWARM_NODES" | sed -n "s/^$n2=//p")
sock2=$(tr ' ' '\n' <<<"$SWARM_SOCKS" | sed -n "s/^$n2=//p")
mgr() { docker -H "unix://$SWARM_MANAGER_SOCK" "$@"; }
wrk() { docker -H "unix://$sock2" "$@"; }
check "env names both nodes with an address each" test -n "$addr1" -a -n "$addr2" -a "$SWARM_MANAGER" = "$n1"
check "the manager lists both nodes Ready" \
  test "$(mgr node ls --format '{{.Hostname}} {{.Status}}' | sort | tr '\n' ' ')" = "$n1 Ready $n2 Ready "
check "node 2 is a worker, node 1 the leader" \
  test "$(mgr node ls --format '{{.Hostname}}={{.ManagerStatus}}' | sort | tr '\n' ' ')" = "$n1=Leader $n2= "
quiet() { "$@" >/dev/null; }
check "the test images are on node 2" quiet wrk image inspect migrate-test/postgres:15 migrate-test/busybox:1
check "the host's own engine is not in a swarm" test "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive

# --- an install deployed as a stack pinned across the nodes: postgres on node 1, the app and
# its volume on node 2 (its compose file as an operator deploys it: docker stack deploy -c)
INST=$WORK/install
demo_install "$INST" "$stack" "$n1" "$n2"
check "docker stack deploy succeeds" quiet mgr stack deploy --resolve-image never -c "$INST/docker-compose.yml" "$stack"
running() {  # SERVICE NODE: its one task runs on NODE
  test "$(mgr service ps "${stack}_$1" --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | cut -d' ' -f1,2)" = "$2 Running"
}
for _ in $(seq 120); do
  running postgres "$n1" && running app "$n2" && break
  sleep 0.5
done
check "postgres runs on $n1 (docker service ps)" running postgres "$n1"
check "the app runs on $n2 (docker service ps)" running app "$n2"
check "the app's volume ${stack}_app_data is on node 2's engine" quiet wrk volume inspect "${stack}_app_data" -f '{{.Name}}'
check "and not on node 1's" bash -c "! docker -H unix://$SWARM_MANAGER_SOCK volume inspect ${stack}_app_data >/dev/null 2>&1"
pg=$(mgr ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres")
app=$(wrk ps -q --filter "label=com.docker.swarm.service.name=${stack}_app")
healthy() { test "$(mgr inspect -f '{{.State.Health.Status}}' "$pg" 2>/dev/null)" = healthy; }
for _ in $(seq 60); do healthy && break; sleep 0.5; done
check "postgres on node 1 is healthy" healthy
check "the app on node 2 reaches postgres on node 1 over the overlay network" \
  wrk exec "$app" sh -c 'nc -w 5 tasks.postgres 5432 </dev/null'

# --- SSH into node 2 with the rig's key: it is node 2, with node 2's engine
ssh2() { ssh -i "$SWARM_KEY" -o UserKnownHostsFile="$SWARM_KNOWN_HOSTS" -o BatchMode=yes -p "$SWARM_SSH_PORT" "root@$addr2" "$@"; }
check "ssh root@$addr2 with the rig's key and known_hosts" ssh2 true
check "the session's hostname is $n2" test "$(ssh2 hostname)" = "$n2"
check "the session's docker is node 2's engine (runs the app task)" test "$(ssh2 docker ps -q --no-trunc | grep -c "^$app")" = 1
check "ssh root@$addr1 with the same key" ssh -i "$SWARM_KEY" -o UserKnownHostsFile="$SWARM_KNOWN_HOSTS" -o BatchMode=yes "root@$addr1" true

# --- migrate check sees the stack, its nodes and where each service runs
chk() { DOCKER_HOST=unix://$SWARM_MANAGER_SOCK "$BIN/migrate" check --to-path "$INST" "$@" </dev/null; }
chk --json >"$WORK/check.json" 2>"$WORK/check.err" || true
row() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .status + " " + .detail' "$WORK/check.json"; }
check "check: the install is a stack on a Swarm" test "$(row swarm)" = "ok stack $stack on a Swarm: 2 services, 2 nodes (1 manager)"
check "check: node 1, the leader, with its address" bash -c "[[ '$(row "node $n1")' == 'ok $addr1, manager (leader), active, ready'* ]]"
check "check: node 2, a worker, with its address" bash -c "[[ '$(row "node $n2")' == 'ok $addr2, worker, active, ready'* ]]"
check "check: the app runs on node 2, pinned there, with its volume" test "$(row "service app")" = \
  "ok 1/1 running on $n2; constraints node.hostname == $n2; volumes ${stack}_app_data"
check "check: postgres runs on node 1" bash -c "[[ '$(row postgres)' == 'ok 1/1 running on $n1'* ]]"
check "check: no compose postgres row that says it is not running" bash -c "! grep -q 'is not running' '$WORK/check.json'"
chk >"$WORK/check.txt" 2>&1 || true
check "check's table names the nodes" grep -q "^node $n2 .*$addr2, worker" "$WORK/check.txt"
# Each node over SSH: the rig's key and known_hosts reach every node's own engine.
keys=(--key "$SWARM_KEY" --known-hosts "$SWARM_KNOWN_HOSTS")
chk --json "${keys[@]}" >"$WORK/ssh.json" 2>/dev/null || true
srow() { jq -r --arg n "$2" '.checks[] | select(.name == $n) | .status + " " + .detail' "$1"; }
check "check over SSH: node 1's own engine answers, postgres's volume there" \
  test "$(srow "$WORK/ssh.json" "ssh $n1")" = "ok root@$addr1: its engine is $n1; volumes ${stack}_postgres_data there"
check "check over SSH: node 2's engine, the app's volume there" \
  test "$(srow "$WORK/ssh.json" "ssh $n2")" = "ok root@$addr2: its engine is $n2; volumes ${stack}_app_data there"
check "check without the rig's known_hosts: a warning naming the host key, and how to give access" bash -c \
  "jq -r '.checks[] | select(.name == \"ssh $n2\") | .status + \" \" + .detail + \" \" + .fix' '$WORK/check.json' |
   grep -q '^warn .*host key.*--known-hosts'"
printf 'nodes:\n  %s: {address: %s}\n' "$n2" "$addr1" >"$WORK/wrong-nodes.yml"
chk --json "${keys[@]}" --nodes-file "$WORK/wrong-nodes.yml" >"$WORK/wrong.json" 2>/dev/null || true
check "a nodes file that sends node 2 to node 1's address: warned, naming who answered" bash -c \
  "[[ '$(srow "$WORK/wrong.json" "ssh $n2")' == 'warn root@$addr1 answers as Swarm node '*', not as $n2 '* ]]"
printf 'nodes:\n  %s: {port: lots}\n' "$n2" >"$WORK/bad-nodes.yml"
chk --json "${keys[@]}" --nodes-file "$WORK/bad-nodes.yml" >"$WORK/bad.json" 2>/dev/null && brc=0 || brc=$?
check "a malformed nodes file: a failed row with its line, exit 1" bash -c \
  "test $brc -eq 1 && [[ '$(srow "$WORK/bad.json" "nodes file")' == 'fail $WORK/bad-nodes.yml:2: port must be'* ]]"
DOCKER_HOST=unix://$sock2 "$BIN/migrate" check --to-path "$INST" --json </dev/null >"$WORK/worker.json" 2>/dev/null || true
check "check through a worker says to point DOCKER_HOST at a manager" bash -c \
  "jq -r '.checks[] | select(.name == \"swarm\") | .status + \" \" + .fix' '$WORK/worker.json' | grep -q '^warn point DOCKER_HOST at a manager'"
mgr node update --availability drain "$n2" >/dev/null
mgr service update --replicas 2 --detach "${stack}_app" >/dev/null 2>&1 || true
sleep 2
chk --json >"$WORK/check2.json" 2>/dev/null || true
row2() { jq -r --arg n "$1" '.checks[] | select(.name == $n) | .status' "$WORK/check2.json"; }
check "check: a drained node warns" test "$(row2 "node $n2")" = warn
check "check: a service short of its replicas warns" test "$(row2 "service app")" = warn
mgr node update --availability active "$n2" >/dev/null
mgr service update --replicas 1 --detach "${stack}_app" >/dev/null 2>&1
for _ in $(seq 120); do running app "$n2" && break; sleep 0.5; done

# --- backup of the stack: the app's volume read on node 2, the database dumped on node 1
echo "correct horse battery staple" >"$WORK/pw"
vol2=$(wrk volume inspect "${stack}_app_data" -f '{{.Mountpoint}}')
mkdir -p "$vol2/uploads/2024"
echo "served from node 2" >"$vol2/index.html"
printf 'photo-%s\n' {1..300} >"$vol2/uploads/2024/photo one.jpg"
chown 1234:2345 "$vol2/uploads/2024/photo one.jpg"
chmod 4755 "$vol2/uploads/2024/photo one.jpg"
ln -s uploads/2024 "$vol2/latest"
touch -d '2020-01-02 03:04:05.123456789' "$vol2/index.html"
mgr exec "$pg" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 \
  -c "create table visits(id serial primary key, note text); insert into visits(note) select 'v' || g from generate_series(1, 420) g;"
bk() { DOCKER_HOST=unix://$SWARM_MANAGER_SOCK "$BIN/migrate" backup "$@" --to-path "$INST" --repo "$WORK/repo" \
  --password-file "$WORK/pw" </dev/null; }
bk create --json --quiet "${keys[@]}" >"$WORK/b1.json" 2>"$WORK/b1.err" && brc=0 || brc=$?
check "backup create of the stack: exit 0, ready" bash -c "test $brc -eq 0 && test \"\$(jq -r .status '$WORK/b1.json')\" = ready"
id1=$(jq -r .id "$WORK/b1.json")
check "the first backup (a new repository) leaves no restic lock behind" \
  test -z "$(RESTIC_PASSWORD_FILE=$WORK/pw restic -r "$WORK/repo" list locks --no-lock)"
bk status "$id1" --json >"$WORK/s1.json"
man() { jq -r "$1" "$WORK/s1.json"; }
check "the manifest records the stack and its 2 nodes" test "$(man '.manifest.swarm.stack + " " + (.manifest.swarm.nodes | length | tostring)')" = "$stack 2"
check "and where each service ran, with its constraints" test "$(man '.manifest.swarm.services[] | select(.name == "app") | .nodes[0] + " " + .constraints[0]')" = "$n2 node.hostname == $n2"
check "one volume read: the app's, on node 2 (never postgres's live data folder)" \
  test "$(man '[.manifest.swarm.volumes[] | .name + "@" + .node] | join(",")')" = "${stack}_app_data@$n2"
check "the database was dumped: the rows made on node 1" test "$(man '.manifest.db.tables["public.visits"]')" = 420
vsnap=$(man '.manifest.swarm.volumes[0].snapshot')
mkdir -p "$WORK/vol-back"
RESTIC_PASSWORD_FILE=$WORK/pw restic -r "$WORK/repo" dump "$vsnap" "/${stack}_app_data.tar" | tar -x --numeric-owner -C "$WORK/vol-back"
check "the volume's part holds its tree, attribute for attribute" diff <(state "$vol2") <(state "$WORK/vol-back")
dsnap=$(man '.manifest.db.snapshot')
# (read whole: a restic killed by SIGPIPE would leave its lock behind)
RESTIC_PASSWORD_FILE=$WORK/pw restic -r "$WORK/repo" dump "$dsnap" /db.dump >"$WORK/db.dump"
check "the database's part is a pg_dump archive with the table" bash -c "pg_restore -l '$WORK/db.dump' | grep -q 'TABLE public visits'"
bk create --json --quiet "${keys[@]}" >"$WORK/b2.json" 2>/dev/null || true
bk check --json >"$WORK/check-all.json" || true
check "backup check finds every part of the stack's backups" test "$(jq -r .ok "$WORK/check-all.json")" = true
RESTIC_PASSWORD_FILE=$WORK/pw restic -r "$WORK/repo" forget "$vsnap" >/dev/null 2>&1
bk check --json >"$WORK/check-parts.json" || true
check "backup check names a volume part that went missing" bash -c \
  "jq -r '.problems[]' '$WORK/check-parts.json' | grep -q 'its volume ${stack}_app_data of node $n2 (snapshot $vsnap) is missing'"
check "a second backup of the unchanged stack is ready too" test "$(jq -r .status "$WORK/b2.json")" = ready
bk create --json --quiet --suspend "${keys[@]}" >"$WORK/b5.json" 2>"$WORK/b5.err" || true
check "--suspend: ready, the app recorded as suspended" \
  test "$(jq -r '.status + " " + (.suspended | join(","))' "$WORK/b5.json")" = "ready app"
check "--suspend scaled the app to 0 for the backup (its previous spec had 0 replicas)" \
  test "$(mgr service inspect -f '{{.PreviousSpec.Mode.Replicated.Replicas}}' "${stack}_app")" = 0
check "and back to its own replica count" test "$(mgr service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "${stack}_app")" = 1
for _ in $(seq 120); do running app "$n2" && break; sleep 0.5; done
check "the app runs again on node 2" running app "$n2"
check "postgres was never scaled" test -z "$(mgr service inspect -f '{{if .PreviousSpec}}{{.PreviousSpec.Mode.Replicated.Replicas}}{{end}}' "${stack}_postgres")"
printf 'nodes:\n  %s: {port: 2}\n' "$n2" >"$WORK/away.yml"
bk create --json --quiet "${keys[@]}" --nodes-file "$WORK/away.yml" >/dev/null 2>"$WORK/b3.err" && brc=0 || brc=$?
check "node 2 unreachable: the backup fails (exit 1) naming the node" bash -c \
  "test $brc -eq 1 && grep -q 'node $n2 ($addr2) cannot be reached over SSH' '$WORK/b3.err'"
check "and no backup is listed ready but the three" test "$(bk list --json | jq '[.[] | select(.status == "ready")] | length')" = 3
bk create --json --quiet >/dev/null 2>"$WORK/b4.err" && brc=0 || brc=$?
check "without the nodes' host keys: exit 1 saying what to give" bash -c "test $brc -eq 1 && grep -q -- '--known-hosts' '$WORK/b4.err'"
# --- node 2 lost in the middle of a backup: its link cut while its volume streams (slowed to
# 16 Mbit/s so that the cut lands mid-stream); the dead connection is found (TCP_USER_TIMEOUT)
head -c $((24 << 20)) /dev/urandom >"$vol2/big.bin"
tc -n "$n2" qdisc add dev eth0 root tbf rate 16mbit burst 64kb latency 1s
start=$SECONDS
bk create --json --quiet "${keys[@]}" >"$WORK/b6.json" 2>"$WORK/b6.err" &
bpid=$!
streaming() { pgrep -f "tar --create.*-C $vol2" >/dev/null; }
for _ in $(seq 200); do streaming && break; sleep 0.1; done
check "node 2's tar is streaming the volume when the link is cut" streaming
sleep 1
ip -n "$n2" link set eth0 down
wait "$bpid" && brc=0 || brc=$?
echo "# backup with node 2 lost mid-stream ended in $((SECONDS - start)) s"
ip -n "$n2" link set eth0 up
tc -n "$n2" qdisc del dev eth0 root
check "node 2 lost mid-backup: exit 1, saying the connection to node 2 was lost" bash -c \
  "test $brc -eq 1 && grep -q 'connection to .*$addr2.* was lost' '$WORK/b6.err'"
((brc == 1)) || cat "$WORK/b6.err"
check "the cut backup is not listed ready" \
  test "$(bk list --json | jq '[.[] | select(.status == "ready")] | length')" = 3
check "and left no restic lock" test -z "$(RESTIC_PASSWORD_FILE=$WORK/pw restic -r "$WORK/repo" list locks --no-lock)"
rm -f "$vol2/big.bin"
for _ in $(seq 120); do
  [[ "$(mgr node ls --format '{{.Hostname}} {{.Status}}' | grep "^$n2 ")" == "$n2 Ready" ]] && running app "$n2" && break
  sleep 0.5
done
bk create --json --quiet "${keys[@]}" >"$WORK/b7.json" 2>"$WORK/b7.err" || true
check "node 2 back: the next backup is ready" test "$(jq -r .status "$WORK/b7.json")" = ready

# --- a restore onto the same Swarm needs no node map (each node is itself): its dry run says
# where each volume goes; a backup exported into one file carries the volume (the second: the
# first one's volume part was forgotten above)
DOCKER_HOST=unix://$SWARM_MANAGER_SOCK "$BIN/migrate" restore "$id1" --dry-run --to-path "$INST" --repo "$WORK/repo" \
  --password-file "$WORK/pw" "${keys[@]}" </dev/null >"$WORK/r1.out" 2>"$WORK/r1.err" && rrc=0 || rrc=$?
check "restore --dry-run onto the same Swarm: exit 0, each node itself, the volume on node 2" bash -c \
  "test $rrc -eq 0 && grep -q 'nodes: .*$n2 -> $n2' '$WORK/r1.out' && grep -q 'volumes: ${stack}_app_data on $n2' '$WORK/r1.out'"
((rrc == 0)) || cat "$WORK/r1.err"
check "and it changed nothing: no restore folder, no map file" test ! -e "$INST/restore" -a ! -e "$INST/restore-node-map.json"
bk export "$(jq -r .id "$WORK/b2.json")" --output "$WORK/b.tar" >/dev/null 2>"$WORK/e1.err" && erc=0 || erc=$?
check "export of a stack's backup: exit 0, the volume of node 2 a member, every checksum right" bash -c \
  "test $erc -eq 0 && tar -tf '$WORK/b.tar' 2>/dev/null | grep -qx 'volumes/$n2/${stack}_app_data.tar' &&
   mkdir -p '$WORK/x' && tar -xf '$WORK/b.tar' -C '$WORK/x' 2>/dev/null && (cd '$WORK/x' && sha256sum --quiet -c SHA256SUMS)"
((erc == 0)) || cat "$WORK/e1.err"

# --- recorded outputs for the unit tests (SWARM_RECORD=DIR)
if [[ -n "${SWARM_RECORD:-}" ]]; then
  rec=$SWARM_RECORD
  mkdir -p "$rec"
  mgr node ls --format '{{json .}}' >"$rec/node_ls.jsonl"
  for id in $(mgr node ls -q); do
    mgr node inspect "$id" >"$rec/node_inspect_$(mgr node inspect -f '{{.Description.Hostname}}' "$id").json"
  done
  mgr stack ls --format '{{json .}}' >"$rec/stack_ls.jsonl"
  mgr stack services "$stack" --format '{{json .}}' >"$rec/stack_services_$stack.jsonl"
  for s in postgres app; do
    mgr service inspect "${stack}_$s" >"$rec/service_inspect_${stack}_$s.json"
    mgr service ps "${stack}_$s" --no-trunc --format '{{json .}}' >"$rec/service_ps_${stack}_$s.jsonl"
  done
  wrk volume ls --format '{{json .}}' >"$rec/volume_ls_$n2.jsonl"
  mgr info --format '{{json .Swarm}}' >"$rec/info_swarm_manager.json"
  wrk info --format '{{json .Swarm}}' >"$rec/info_swarm_worker.json"
  echo "# recorded into $rec"
fi

# --- down: nothing of the rig is left
start=$SECONDS
check "swarm.sh down $rig succeeds" bash "$swarm" down "$rig"
echo "# swarm down took $((SECONDS - start)) s"
check "the node and hub namespaces are gone" bash -c "! ip netns list | grep -E '^($n1|$n2|$rig-hub)( |\$)'"
check "the rig's folder is gone" test ! -e "$SWARM_DIR"
check "the host's veth into the rig is gone" bash -c "! ip link show sw-$rig >/dev/null 2>&1"
check "nothing is mounted under the rig's folder" bash -c "! grep -q ' $SWARM_DIR/' /proc/self/mountinfo"
no_rig_process() {
  local f cmd
  for f in /proc/[0-9]*/cmdline; do
    cmd=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
    if [[ "$cmd" == *"$SWARM_DIR/"* ]]; then echo "left: ${f%/cmdline} $cmd"; return 1; fi
  done
}
check "no process of the rig is left" no_rig_process
check "down again is a no-op" bash "$swarm" down "$rig"
finish
