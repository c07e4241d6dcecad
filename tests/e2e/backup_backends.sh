#!/usr/bin/env bash
# migrate backup and restore against each kind of restic repository, for real, on loopback:
# SFTP through the project's test sshd (127.0.0.2:2222), S3 on a local S3 server (moto_server),
# REST through `rclone serve restic`. Each: a backup, a change, a restore equal to the backup.
. "$(dirname "$0")/lib.sh"

rig=$WORK/sshd
bash "$ROOT/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$ROOT/scripts/rig/sshd.sh" stop "$rig"; cleanup_suite' EXIT

INST=$WORK/releases/1.0.0
new_release "$INST" 1.0.0 $(port_block)
compose_in "$INST" up -d >/dev/null 2>&1
wait_healthy "$INST"
OLD=$INST seed_old
echo "backends test password" >"$WORK/pw"
export RESTIC_PASSWORD_FILE=$WORK/pw
cd "$INST"
work=$WORK
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
state "$INST/data" >"$WORK/data.at-backup"
rows() { sql "$INST" "select count(*) from users"; }
rows >"$WORK/rows.at-backup"

# round_trip NAME REPO [--repo-option ...]: backup, list, change, restore, compare.
round_trip() {
  local name=$1 repo=$2
  shift 2
  capture "$name-create" "$BIN/migrate" backup create --repo "$repo" "$@" --json
  check "$name: backup create exits 0" test "$rc" -eq 0
  [[ $rc -eq 0 ]] || cat "$work/$name-create.err"
  capture "$name-list" "$BIN/migrate" backup list --repo "$repo" "$@" --json
  check "$name: the backup is listed ready" test "$(json "$work/$name-list.out" '[e["status"] for e in j]')" = "['ready']"
  echo "changed" >"$INST/data/index.html"
  sql "$INST" "insert into users(email) values ('$name@after.example')" >/dev/null
  capture "$name-restore" "$BIN/migrate" restore latest --repo "$repo" "$@" --yes
  check "$name: restore exits 0" test "$rc" -eq 0
  [[ $rc -eq 0 ]] || cat "$work/$name-restore.err"
  check "$name: data/ is the backup's" diff "$WORK/data.at-backup" <(state "$INST/data")
  check "$name: the rows are the backup's" diff "$WORK/rows.at-backup" <(rows)
  rm -rf "$INST/restore"
}

# --- SFTP through the test sshd (restic runs OpenSSH's ssh: the test key and known_hosts)
ssh_cmd="ssh -i $rig/client_ed25519 -o UserKnownHostsFile=$rig/known_hosts -o BatchMode=yes -p 2222 root@127.0.0.2 -s sftp"
round_trip sftp "sftp:root@127.0.0.2:$WORK/sftp-repo" --repo-option "sftp.command=$ssh_cmd"
check "sftp: the repository is on the server's side" test -f "$WORK/sftp-repo/config"
# A server that refuses the key: one sentence, exit 1
capture sftp-refused "$BIN/migrate" backup list --repo "sftp:root@127.0.0.2:$WORK/sftp-repo" \
  --repo-option "sftp.command=ssh -i $rig/stranger -o UserKnownHostsFile=$rig/known_hosts -o BatchMode=yes -p 2222 root@127.0.0.2 -s sftp"
check "sftp with a refused key: exit 1" test "$rc" -eq 1
check "sftp with a refused key: says it cannot reach the repository" grep -q "cannot be reached" "$work/sftp-refused.err"

# --- REST through rclone serve restic
rest_port=$(free_port)
rclone serve restic --addr "127.0.0.1:$rest_port" "$WORK/rest-repo" >"$WORK/rclone.log" 2>&1 &
pids+=($!)
wait_port "$rest_port"
round_trip rest "rest:http://127.0.0.1:$rest_port/"
check "rest: the repository is in rclone's folder" test -f "$WORK/rest-repo/config"
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
capture rest-down "$BIN/migrate" backup list --repo "rest:http://127.0.0.1:$rest_port/"
check "rest server gone: exit 1" test "$rc" -eq 1
check "rest server gone: says it cannot be reached" grep -q "cannot be reached" "$work/rest-down.err"

# --- S3 on a local S3 server
if command -v moto_server >/dev/null 2>&1; then
  s3_port=$(free_port)
  moto_server -H 127.0.0.1 -p "$s3_port" >"$WORK/moto.log" 2>&1 &
  pids+=($!)
  wait_port "$s3_port"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url "http://127.0.0.1:$s3_port" s3api create-bucket --bucket backups >/dev/null
  round_trip s3 "s3:http://127.0.0.1:$s3_port/backups"
else
  echo "skip - s3: no moto_server on this machine (the machine image ships it; TESTING.md)"
fi

finish
