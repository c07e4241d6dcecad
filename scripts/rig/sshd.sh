#!/usr/bin/env bash
# A real SSH server on a loopback address standing in for the old server (tests, benchmarks).
#
# Usage: scripts/rig/sshd.sh start DIR [ADDR [PORT]]  -> sshd on ADDR:PORT (127.0.0.2:2222),
#          host key DIR/host_ed25519; client keys DIR/client_ed25519, DIR/client_ecdsa,
#          DIR/client_rsa and DIR/client_enc (passphrase "sesame") are authorized for root,
#          DIR/stranger is not;
#          DIR/known_hosts knows the host key
#        (RIG_SSHD_EXTRA: more sshd_config lines, e.g. SetEnv for a test's fake remote;
#         every session gets SHLVL=1: bash, run by sshd for each command, then skips root's
#         ~/.bashrc, which on the test machines runs `pyenv init` (0.5-1.5 s a command) where a
#         server's root shell as a rule does nothing; RIG_SSHD_BASHRC=1 keeps it;
#         RIG_SSHD_WRAP: a command, words without spaces, that runs the sshd command line it is
#         given, e.g. in a network namespace: scripts/rig/swarm.sh's nodes)
#        scripts/rig/sshd.sh stop DIR
#        scripts/rig/sshd.sh cut DIR   -> kill -9 the server's connection processes (a cut link)
set -euo pipefail
RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$RIG_DIR/../lib/common.sh"
cmd=${1:-}
dir=${2:?usage: sshd.sh start|stop|cut DIR [ADDR [PORT]]}
case "$cmd" in
  start)
    addr=${3:-127.0.0.2}
    port=${4:-2222}
    ensure_packages openssh-server openssh-client
    mkdir -p "$dir" /run/sshd
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C rig-host -f "$dir/host_ed25519"
    [ -f "$dir/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C rig-client -f "$dir/client_ed25519"
    [ -f "$dir/client_ecdsa" ] || ssh-keygen -q -t ecdsa -b 256 -N '' -C rig-ecdsa -f "$dir/client_ecdsa"
    [ -f "$dir/client_rsa" ] || ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C rig-rsa -f "$dir/client_rsa"
    [ -f "$dir/client_enc" ] || ssh-keygen -q -t ed25519 -N sesame -C rig-enc -f "$dir/client_enc"
    [ -f "$dir/stranger" ] || ssh-keygen -q -t ed25519 -N '' -C stranger -f "$dir/stranger"
    cat "$dir/client_ed25519.pub" "$dir/client_ecdsa.pub" "$dir/client_rsa.pub" "$dir/client_enc.pub" >"$dir/authorized_keys"
    hostpat="[$addr]:$port"
    [ "$port" = 22 ] && hostpat=$addr  # ssh looks a host on the default port up by its bare name
    echo "$hostpat $(cut -d' ' -f1,2 "$dir/host_ed25519.pub")" >"$dir/known_hosts"
    # sshd takes only the first SetEnv line: SHLVL=1 joins the caller's, or is a line of its own.
    extra=${RIG_SSHD_EXTRA:-}
    if [[ -z ${RIG_SSHD_BASHRC:-} ]]; then
      if [[ $extra == *SetEnv\ * ]]; then extra=${extra/SetEnv /SetEnv SHLVL=1 }; else extra+=$'\nSetEnv SHLVL=1'; fi
    fi
    cat >"$dir/sshd_config" <<CONF
ListenAddress $addr:$port
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel VERBOSE
Subsystem sftp internal-sftp
$extra
CONF
    [ -f "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null && sleep 0.3 || true
    read -r -a wrap <<<"${RIG_SSHD_WRAP:-}"
    "${wrap[@]}" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
    for _ in $(seq 50); do
      if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then
        log "sshd answers on $addr:$port (keys and known_hosts in $dir)"
        exit 0
      fi
      sleep 0.1
    done
    die "sshd did not start on $addr:$port; see $dir/sshd.log"
    ;;
  stop)
    [ -f "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
    rm -f "$dir/sshd.pid"
    ;;
  cut)
    pkill -KILL -P "$(cat "$dir/sshd.pid")" || true
    ;;
  *) die "usage: sshd.sh start|stop|cut DIR [ADDR [PORT]]" ;;
esac
