#!/usr/bin/env bash
# The data/ merge from another host over real SSH (sshd on 127.0.0.2:2222, scripts/rig/sshd.sh):
# host key checks, each way of authenticating, the agent's upload, the rsync oracle across
# the link, and a connection cut mid-transfer that the next run resumes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src_dir=${SRC_DIR:-$(cd "$here/../.." && pwd)}
. "$here/checks.sh"
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
work=$(mktemp -d /tmp/ssh-merge.XXXXXX)
rig=$work/rig
users=
trap 'for r in "$rig" "$work/arm" "$work/rsa"; do bash "$src_dir/scripts/rig/sshd.sh" stop "$r"; done
  for u in $users; do userdel "$u" 2>/dev/null; done; rm -rf "$work"' EXIT
bash "$src_dir/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
from=root@127.0.0.2:2222
mkdir -p "$work/src/sub"
echo hello >"$work/src/sub/a.txt"
head -c 300000 /dev/urandom >"$work/src/big.bin"
ln -s sub/a.txt "$work/src/link"

# m OUT DST [flags...]: merge $work/src from $from into DST; exit code in $rc, output in OUT.
# The command runs under "${wrap[@]}" when set (a namespace of its own, a timeout).
wrap=()
m() {
  local out=$1 dst=$2
  shift 2
  set +e
  "${wrap[@]}" "$bin/migrate" merge-dir -q --from "$from" "$@" "$work/src" "$dst" </dev/null >"$out" 2>&1
  rc=$?
  set -e
}

: >"$work/empty_known_hosts"
m "$work/o1" "$work/d1" --key "$rig/client_ed25519" --known-hosts "$work/empty_known_hosts"
check "an unknown host key is refused (exit 1)" test "$rc" = 1
check "the refusal names the key's fingerprint and the way to accept it" \
  grep -q "is not known (ED25519 key SHA256:.*--accept-new-host-key" "$work/o1"
check "nothing was copied" test ! -e "$work/d1"

rm -rf "$HOME/.cache/migrate"
m "$work/o2" "$work/d1" --key "$rig/client_ed25519" --known-hosts "$work/empty_known_hosts" --accept-new-host-key
check "with --accept-new-host-key the merge runs (exit 0: $(tail -1 "$work/o2"))" test "$rc" = 0
check "the host key was added to known_hosts" grep -q "^\[127.0.0.2\]:2222 ssh-ed25519 " "$work/empty_known_hosts"
check "the agent was uploaded to the old server's cache" grep -q "uploading migrate-agent" "$work/o2"
check "every file, symlink and attribute arrived" diff -r --no-dereference "$work/src" "$work/d1"
m "$work/o3" "$work/d1" --key "$rig/client_ed25519" --known-hosts "$work/empty_known_hosts"
check "a second run finds the key known and the agent there (no upload)" \
  bash -c "[ $rc = 0 ] && ! grep -q uploading '$work/o3'"

# A changed host key is refused even with --accept-new-host-key.
ssh-keygen -q -t ed25519 -N '' -f "$work/other_host"
echo "[127.0.0.2]:2222 $(cut -d' ' -f1,2 "$work/other_host.pub")" >"$work/changed_known_hosts"
m "$work/o4" "$work/d4" --key "$rig/client_ed25519" --known-hosts "$work/changed_known_hosts" --accept-new-host-key
check "a changed host key is refused (exit 1)" test "$rc" = 1
check "the refusal says CHANGED and how to remove the old key" grep -q "has CHANGED.*ssh-keygen -f" "$work/o4"

# A host known only by a key of another type than the one it offers (here ECDSA; the rig's is
# ED25519) is refused like a changed key, even with --accept-new-host-key: libssh2 compares
# keys of one type only, so this used to read as an unknown host and be appended.
ssh-keygen -q -t ecdsa -N '' -f "$work/other_type_host"
echo "[127.0.0.2]:2222 $(cut -d' ' -f1,2 "$work/other_type_host.pub")" >"$work/other_type_known_hosts"
cp "$work/other_type_known_hosts" "$work/other_type_known_hosts.before"
m "$work/o4t" "$work/d4t" --key "$rig/client_ed25519" --known-hosts "$work/other_type_known_hosts" --accept-new-host-key
check "a host known only by a key of another type is refused (exit 1)" test "$rc" = 1
check "the refusal says CHANGED, names the key offered and how to remove the old one" \
  grep -q "has CHANGED: it now offers the ED25519 key SHA256:.*ssh-keygen -f" "$work/o4t"
check "known_hosts is unchanged" cmp -s "$work/other_type_known_hosts" "$work/other_type_known_hosts.before"
check "nothing was copied" test ! -e "$work/d4t"
# The rig's known_hosts with its names hashed (ssh-keygen -H, as HashKnownHosts writes them).
cp "$rig/known_hosts" "$work/hashed_known_hosts"
ssh-keygen -q -H -f "$work/hashed_known_hosts" >/dev/null 2>&1
m "$work/o4h" "$work/d4h" --key "$rig/client_ed25519" --known-hosts "$work/hashed_known_hosts"
check "a hashed known_hosts entry is matched (exit 0: $(tail -1 "$work/o4h"))" test "$rc" = 0

m "$work/o5" "$work/d5" --key "$rig/stranger" --known-hosts "$rig/known_hosts"
check "a key the server does not know is rejected (exit 1)" test "$rc" = 1
check "the rejection names the user and the key tried" grep -q "rejected the authentication of root (tried: $rig/stranger)" "$work/o5"
# Debian 12's libssh2 1.10 signs with RSA keys by SHA-1, which this OpenSSH refuses: the
# error must say so and what to do (an ed25519 key, or allowing ssh-rsa on the old server).
m "$work/o6" "$work/d6" --key "$rig/client_rsa" --known-hosts "$rig/known_hosts"
if [ "$rc" != 0 ]; then
  check "an RSA key the server refuses for its SHA-1 signature: the error explains it" \
    grep -q "signs with RSA keys by SHA-1.*ed25519" "$work/o6"
fi
# ... and an old server that still accepts them (OpenSSH before 8.8, or told to) takes it.
RIG_SSHD_EXTRA="PubkeyAcceptedAlgorithms +ssh-rsa" bash "$src_dir/scripts/rig/sshd.sh" start "$work/rsa" 127.0.0.2 2226 >/dev/null
from=root@127.0.0.2:2226 m "$work/o6r" "$work/d6r" --key "$work/rsa/client_rsa" --known-hosts "$work/rsa/known_hosts"
check "an RSA key authenticates where the server accepts ssh-rsa (exit 0: $(tail -1 "$work/o6r"))" test "$rc" = 0
bash "$src_dir/scripts/rig/sshd.sh" stop "$work/rsa"
m "$work/o6e" "$work/d6e" --key "$rig/client_ecdsa" --known-hosts "$rig/known_hosts"
check "an ECDSA key authenticates (exit 0: $(tail -1 "$work/o6e"))" test "$rc" = 0
m "$work/o7" "$work/d7" --key "$rig/client_enc" --known-hosts "$rig/known_hosts"
check "an encrypted key without a passphrase and no terminal: exit 2" test "$rc" = 2
check "it says to set SSH_KEY_PASSPHRASE" grep -q "SSH_KEY_PASSPHRASE" "$work/o7"
SSH_KEY_PASSPHRASE=sesame m "$work/o8" "$work/d8" --key "$rig/client_enc" --known-hosts "$rig/known_hosts"
check "an encrypted key with SSH_KEY_PASSPHRASE works" test "$rc" = 0
KEY=$rig/client_ed25519 m "$work/o9" "$work/d9" --known-hosts "$rig/known_hosts"
check "the key from the KEY environment variable works" test "$rc" = 0
eval "$(ssh-agent -s)" >/dev/null
ssh-add -q "$rig/client_ed25519" 2>/dev/null
HOME=$work m "$work/o10" "$work/d10" --known-hosts "$rig/known_hosts"
check "ssh-agent authenticates when no key is given" test "$rc" = 0
ssh-agent -k >/dev/null
from=root@127.0.0.2:2223 m "$work/o11" "$work/d11" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts"
check "a port nobody listens on: refused, clearly" grep -q "refused the connection on port 2223" "$work/o11"

# Names that do not resolve, without asking any real name server (a mount namespace of its
# own): with hosts looked up in /etc/hosts only, the name is unknown; with a resolv.conf naming
# a loopback server nobody runs, no name server answers. Each says what to check.
if unshare -m true 2>/dev/null; then
  printf 'hosts: files\n' >"$work/nsswitch.conf"
  echo "nameserver 127.0.0.1" >"$work/resolv.conf"
  # resolve OUT FILE-OVER-ETC ETC-FILE
  resolve() {
    wrap=(unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$2" "$3")
    from=root@old-server.invalid:2222 m "$1" "$work/d11n" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts"
    wrap=()
  }
  resolve "$work/o11n" "$work/nsswitch.conf" /etc/nsswitch.conf
  check "a name that does not exist fails (exit 1: $(tail -1 "$work/o11n"))" test "$rc" = 1
  check "... saying so and to check its spelling" \
    grep -q "the name old-server.invalid could not be resolved (.*): check the spelling in --from" "$work/o11n"
  resolve "$work/o11d" "$work/resolv.conf" /etc/resolv.conf
  check "a name no name server answers for fails (exit 1: $(tail -1 "$work/o11d"))" test "$rc" = 1
  check "... saying no name server answered, and where to look" \
    grep -q "the name old-server.invalid could not be resolved (.*): no name server answered; check this machine's DNS (/etc/resolv.conf)" "$work/o11d"
  check "nothing was copied" test ! -e "$work/d11n"
else
  echo "skip: the unresolvable-name cases need a mount namespace (unshare -m)" >&2
fi

# An address that drops the connection attempt (a firewall): in a network namespace of its
# own with only loopback, a port whose SYNs are dropped. The connect gives up after 10 s.
if command -v iptables >/dev/null && unshare -n true 2>/dev/null; then
  wrap=(unshare -n sh -c 'ip link set lo up && iptables -A INPUT -p tcp --dport 2231 -j DROP && exec "$@"' sh timeout 120)
  from=root@127.0.0.1:2231 m "$work/o11t" "$work/d11t" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts"
  wrap=()
  check "a connection that is never answered fails the run (exit 1: $(tail -1 "$work/o11t"))" test "$rc" = 1
  check "... saying it did not answer, and what that suggests" \
    grep -q "127.0.0.1 did not answer within 10 s: a firewall, or a wrong address?" "$work/o11t"
  check "nothing was copied" test ! -e "$work/d11t"
else
  echo "skip: the dropped-connection case needs iptables and a network namespace (unshare -n)" >&2
fi

# A server that accepts the connection and then says nothing: the run stops after the
# handshake's timeout (10 s) with a message saying what it waited for, instead of hanging.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", 2225)); s.listen(4)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' >"$work/silent.out" 2>&1 &
silent=$!
for _ in $(seq 100); do grep -q ready "$work/silent.out" && break; sleep 0.1; done
wrap=(timeout 120)
from=root@127.0.0.2:2225 m "$work/o11s" "$work/d11s" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts"
wrap=()
kill "$silent" 2>/dev/null || true
check "a server that never speaks SSH fails the run, not hangs it (exit 1, got $rc)" test "$rc" = 1
check "... saying it did not answer while starting SSH" \
  grep -q "127.0.0.2:2225 did not answer within 10 s while starting SSH" "$work/o11s"
check "nothing was copied" test ! -e "$work/d11s"

# A remote user whose login shell is not POSIX (sshd runs every command with it): fish, tcsh.
# The user is made for the test, with a home of its own (the agent is uploaded there).
chmod 755 "$work"
for shell in fish tcsh; do
  sh_path=$(command -v "$shell" || true)
  if [ -z "$sh_path" ] || ! command -v useradd >/dev/null; then
    echo "skip: a $shell login shell (needs $shell and useradd)" >&2
    continue
  fi
  user=mig-$shell-$$
  useradd -M -p "*" -d "$work/home-$shell" -s "$sh_path" "$user"  # "*": no password, not locked
  users="$users $user"
  mkdir -p "$work/home-$shell" && chown "$user" "$work/home-$shell"
  from=$user@127.0.0.2:2222 m "$work/osh-$shell" "$work/dsh-$shell" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts"
  check "a $shell login shell on the old server: the merge runs (exit 0: $(tail -1 "$work/osh-$shell"))" test "$rc" = 0
  check "... the agent was uploaded into that user's home" grep -q "uploading migrate-agent" "$work/osh-$shell"
  check "... every file arrived" diff -r --no-dereference "$work/src" "$work/dsh-$shell"
done

# --sudo: the agent runs under sudo -n (root here, so sudo lets it through without a password).
if command -v sudo >/dev/null; then
  m "$work/o12" "$work/d12" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts" --sudo
  check "--sudo runs the agent through sudo -n" test "$rc" = 0
fi

# The oracle across the link: the same generated trees as merge_oracle.sh, read over SSH.
MERGE_FLAGS="--from $from --key $rig/client_ed25519 --known-hosts $rig/known_hosts" MERGE_CHECKSUM_SEEDS="1" \
  MERGE_SEEDS="1 2" bash "$here/merge_oracle.sh" && oracle=0 || oracle=1
check "over SSH the merge equals rsync -a --force on generated trees" test "$oracle" = 0

# An old server of another architecture: a second sshd whose sessions see a `uname -m` of
# another machine name and an empty home (no cached agent). Refused before anything is uploaded.
here_arch=$(uname -m)
other_arch=aarch64
[ "$here_arch" = aarch64 ] && other_arch=x86_64
mkdir -p "$work/fakebin" "$work/armhome"
printf '#!/bin/sh\n[ "$1" = -m ] && { echo %s; exit 0; }\nexec /bin/uname "$@"\n' "$other_arch" >"$work/fakebin/uname"
chmod +x "$work/fakebin/uname"
RIG_SSHD_EXTRA="SetEnv PATH=$work/fakebin:/usr/sbin:/usr/bin:/sbin:/bin HOME=$work/armhome" \
  bash "$src_dir/scripts/rig/sshd.sh" start "$work/arm" 127.0.0.2 2224 >/dev/null
from=root@127.0.0.2:2224 m "$work/oarch" "$work/darch" --key "$work/arm/client_ed25519" --known-hosts "$work/arm/known_hosts"
check "an old server of another architecture is refused (exit 1)" test "$rc" = 1
check "... saying which, and what to do" grep -q "is $other_arch and this migrate carries an $here_arch agent: run migrate from a machine of the same architecture" "$work/oarch"
check "... before uploading anything" test ! -e "$work/armhome/.cache"
bash "$src_dir/scripts/rig/sshd.sh" stop "$work/arm"

# A connection cut mid-transfer: a clear error, no half-written file under a final name, and
# the next run finishes the job, reusing the files that had arrived.
mkdir -p "$work/big"
head -c 20000000 /dev/urandom >"$work/seed"
for i in $(seq -w 1 40); do { echo "$i"; cat "$work/seed"; } >"$work/big/f$i"; done
set +e
"$bin/migrate" merge-dir -q --from "$from" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts" \
  "$work/big" "$work/dbig" >"$work/ocut" 2>&1 &
pid=$!
for _ in $(seq 600); do  # until a first batch of files stands under its final names
  [ "$(find "$work/dbig" -name 'f*' 2>/dev/null | wc -l)" -ge 1 ] && break
  sleep 0.05
done
bash "$src_dir/scripts/rig/sshd.sh" cut "$rig"
wait $pid
rc=$?
set -e
check "a cut connection fails the run (exit 1: $(tail -c 200 "$work/ocut" | tr '\n' ' '))" test "$rc" = 1
check "the error says the connection was lost" grep -Eq "connection to .* was lost|ended the connection" "$work/ocut"
partial=0
for f in "$work"/dbig/f*; do [ -e "$f" ] && ! cmp -s "$f" "$work/big/$(basename "$f")" && partial=1; done
check "no half-written file under a final name" test "$partial" = 0
before=$(find "$work/dbig" -name 'f*' 2>/dev/null | wc -l)
"$bin/migrate" merge-dir -q --json --from "$from" --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts" \
  "$work/big" "$work/dbig" >"$work/oresume"
check "running again completes the copy" diff -r "$work/big" "$work/dbig"
written=$(python3 -c "import json; print(json.load(open('$work/oresume'))['files_written'])")
check "the second run copied only what had not arrived ($written of 40, $before were there)" \
  test "$before" -ge 1 -a "$written" -eq $((40 - before))
finish
