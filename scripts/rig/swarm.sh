#!/usr/bin/env bash
# A real Docker Swarm of N nodes on this one machine, for the end-to-end tests.
#
# Usage: scripts/rig/swarm.sh up NAME N   -> nodes NAME1..NAMEN (NAME1 the manager, the others
#                                            workers), all Ready, the test images loaded
#        scripts/rig/swarm.sh down NAME    -> removes all of it (twice, or after a crash, too)
#        scripts/rig/swarm.sh env NAME     -> shell lines for eval:
#          SWARM_DIR, SWARM_MANAGER (hostname), SWARM_MANAGER_SOCK (its engine's socket path),
#          SWARM_NODES="NAME1=ADDR1 ..." , SWARM_SOCKS="NAME1=SOCK1 ...", SWARM_SSH_PORT,
#          SWARM_KEY (logs into every node's sshd as root), SWARM_KNOWN_HOSTS
#
# NAME: a lower-case letter, then up to 11 letters or digits; N: 1 to 20.
# Each node is a dockerd (with the containerd it starts itself) in network namespace NAMEk,
# hostname NAMEk, address 10.251.X.k/24, its own data root, exec root, socket, containerd
# namespace and cgroup parent (/migrate-swarm-NAME/NAMEk), no iptables, no NAT, no docker0.
# The nodes are ports of a bridge in namespace NAME-hub; the host reaches them through veth
# sw-NAME (10.251.X.254/24). Nothing is routed beyond 10.251.X.0/24.
# X is RIG_SWARM_NET when set, else derived from NAME (the next free one when taken).
# Each node runs an sshd (scripts/rig/sshd.sh) on ADDR:22 in its namespaces, with the node's
# hostname and the node's engine as /run/docker.sock there.
# Everything lives under /tmp/migrate-swarm-NAME/ (daemon logs: NAMEk/dockerd.log).
# The host's own engine only lends the images (scripts/rig/images.sh builds them when absent).
set -euo pipefail

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$RIG_DIR/../lib/common.sh"

IMAGES=(migrate-test/postgres:15 migrate-test/busybox:1)
SSH_PORT=22

usage() {
    sed -n '2,10p' "$0" >&2
    exit 2
}

cmd=${1:-}
NAME=${2:-}
[[ -n "$cmd" && -n "$NAME" ]] || usage
[[ "$NAME" =~ ^[a-z][a-z0-9]{0,11}$ ]] || die "bad rig name '$NAME': a lower-case letter, then up to 11 letters or digits"
DIR=/tmp/migrate-swarm-$NAME
HUB=$NAME-hub
HOST_IF=sw-$NAME
CGROUP=migrate-swarm-$NAME
NET=""
N=0

# read_state : N and NET of an existing rig from DIR/state (false when there is none).
read_state() {
    [[ -f "$DIR/state" ]] || return 1
    N=$(sed -n 's/^N=//p' "$DIR/state")
    NET=$(sed -n 's/^NET=//p' "$DIR/state")
    [[ "$N" =~ ^[0-9]+$ && "$NET" =~ ^10\.251\.[0-9]+$ ]]
}

node_ns() { echo "$NAME$1"; }
node_dir() { echo "$DIR/$NAME$1"; }
node_sock() { echo "$DIR/$NAME$1/docker.sock"; }
node_addr() { echo "$NET.$1"; }
# dk K ARGS... : the docker CLI against node K's engine.
dk() {
    local k=$1
    shift
    docker -H "unix://$(node_sock "$k")" "$@"
}

# net_taken X : true when 10.251.X.0/24 is already on an interface or a route of the host.
net_taken() {
    ip -4 -o addr show | grep -q " 10\.251\.$1\." && return 0
    ip -4 route show | grep -q "^10\.251\.$1\." && return 0
    return 1
}

# pick_net : NET for this rig: RIG_SWARM_NET, else a hash of NAME, the next free one if taken.
pick_net() {
    local x i
    if [[ -n "${RIG_SWARM_NET:-}" ]]; then
        if ! [[ "$RIG_SWARM_NET" =~ ^[0-9]+$ ]] || ((RIG_SWARM_NET < 1 || RIG_SWARM_NET > 254)); then
            die "RIG_SWARM_NET must be 1..254, not '$RIG_SWARM_NET'"
        fi
        net_taken "$RIG_SWARM_NET" && die "10.251.$RIG_SWARM_NET.0/24 is in use on this host; pick another RIG_SWARM_NET"
        NET=10.251.$RIG_SWARM_NET
        return 0
    fi
    x=$(($(printf '%s' "$NAME" | cksum | cut -d' ' -f1) % 250 + 1))
    for ((i = 0; i < 250; i++)); do
        if ! net_taken "$x"; then
            NET=10.251.$x
            return 0
        fi
        x=$((x % 250 + 1))
    done
    die "no free 10.251.X.0/24 on this host"
}

# make_network : the hub namespace with its bridge, the host's veth into it, one veth per node.
make_network() {
    local k ns
    ip netns add "$HUB"
    # The host's bridge-nf-call-iptables and its engine's FORWARD DROP would drop traffic between
    # nodes on a bridge in the host's namespace; in the hub's own namespace nothing filters it.
    # (Its net.bridge sysctls are its own: this leaves the host's as they are.)
    nsenter --net="/run/netns/$HUB" sh -c 'echo 0 >/proc/sys/net/bridge/bridge-nf-call-iptables' 2>/dev/null || true
    ip -n "$HUB" link add br0 type bridge
    ip -n "$HUB" link set br0 up
    ip -n "$HUB" link set lo up
    ip link add "$HOST_IF" type veth peer name host netns "$HUB"
    ip -n "$HUB" link set host master br0 up
    ip addr add "$NET.254/24" dev "$HOST_IF"
    ip link set "$HOST_IF" up
    for ((k = 1; k <= N; k++)); do
        ns=$(node_ns "$k")
        ip netns add "$ns"
        ip link add eth0 netns "$ns" type veth peer name "n$k" netns "$HUB"
        ip -n "$HUB" link set "n$k" master br0 up
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$(node_addr "$k")/24" dev eth0
        ip -n "$ns" link set eth0 up
    done
}

# start_dockerd K : node K's dockerd (in the background; it starts its own containerd).
start_dockerd() {
    local k=$1 ns dir
    ns=$(node_ns "$k")
    dir=$(node_dir "$k")
    mkdir -p "$dir/data" "$dir/exec"
    # Not the host's /etc/docker/daemon.json; a key (the engine's ID in `docker info`) per node.
    printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json"
    # `ip netns exec` would remount /sys, and dockerd then fails on the devices cgroup.
    # shellcheck disable=SC2016  # $1 and $@ are the inner shell's
    setsid nsenter --net="/run/netns/$ns" unshare -u sh -c 'hostname "$1"; shift; exec "$@"' sh "$ns" \
        dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" --exec-root "$dir/exec" \
        --pidfile "$dir/docker.pid" -H "unix://$dir/docker.sock" \
        --containerd-namespace "$CGROUP-$k" --containerd-plugins-namespace "$CGROUP-$k-plugins" \
        --cgroup-parent "/$CGROUP/$ns" --iptables=false --ip-masq=false --bridge=none \
        >"$dir/dockerd.log" 2>&1 </dev/null &
    echo "$!" >"$dir/dockerd.spid"
}

# wait_dockerd K : until node K's engine answers (60 s at most).
wait_dockerd() {
    local k=$1 i dir pid
    dir=$(node_dir "$k")
    pid=$(cat "$dir/dockerd.spid")
    for ((i = 0; i < 600; i++)); do
        dk "$k" version >/dev/null 2>&1 && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 20 "$dir/dockerd.log" >&2 || true
            die "dockerd of $(node_ns "$k") exited (see $dir/dockerd.log)"
        fi
        sleep 0.1
    done
    tail -n 20 "$dir/dockerd.log" >&2 || true
    die "dockerd of $(node_ns "$k") did not answer within 60 s (see $dir/dockerd.log)"
}

# start_sshd K : scripts/rig/sshd.sh on node K's address, in its namespaces, with the client
# keys of node 1 (so that one key logs into every node).
start_sshd() {
    local k=$1 ns dir
    ns=$(node_ns "$k")
    dir=$(node_dir "$k")
    mkdir -p "$dir/sshd"
    if ((k > 1)); then
        cp -p "$(node_dir 1)"/sshd/{client_,stranger}* "$dir/sshd/"
    fi
    cat >"$dir/sshd-wrap" <<WRAP
#!/bin/sh
# Runs its arguments (sshd) as node $ns: its network namespace, its hostname, and its engine as
# /run/docker.sock (a mount namespace of its own, so the host's socket stays as it is).
exec nsenter --net=/run/netns/$ns unshare -u -m --propagation slave \\
  sh -c 'hostname "\$1" && mount --bind "\$2" /run/docker.sock && shift 2 && exec "\$@"' sh $ns $dir/docker.sock "\$@"
WRAP
    chmod 755 "$dir/sshd-wrap"
    RIG_SSHD_WRAP="$dir/sshd-wrap" bash "$RIG_DIR/sshd.sh" start "$dir/sshd" "$(node_addr "$k")" "$SSH_PORT" 2>/dev/null ||
        die "the sshd of $ns did not start (see $dir/sshd/sshd.log)"
}

# wait_ready : until the manager lists all N nodes Ready (90 s at most).
wait_ready() {
    local i k list absent=""
    for ((i = 0; i < 180; i++)); do
        list=$(dk 1 node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null || true)
        absent=""
        for ((k = 1; k <= N; k++)); do
            grep -qx "$(node_ns "$k") Ready" <<<"$list" || absent+=" $(node_ns "$k")"
        done
        [[ -z "$absent" ]] && return 0
        sleep 0.5
    done
    printf '%s\n' "$list" >&2
    die "node(s) not Ready within 90 s:$absent (logs: $DIR/${NAME}K/dockerd.log)"
}

up() {
    local n=${1:-} k start pids=() save_pid
    if ! [[ "$n" =~ ^[0-9]+$ ]] || ((n < 1 || n > 20)); then die "N must be 1..20, not '$n'"; fi
    need_root
    start=$SECONDS
    if [[ -e "$DIR" || -e "/run/netns/$HUB" ]]; then
        die "rig $NAME exists ($DIR); run: $0 down $NAME"
    fi
    N=$n
    ensure_packages iproute2 util-linux openssh-server openssh-client docker.io
    ensure_engine
    local img
    for img in "${IMAGES[@]}"; do
        docker image inspect "$img" >/dev/null 2>&1 || bash "$RIG_DIR/images.sh"
    done
    pick_net
    mkdir -p "$DIR"
    printf 'N=%s\nNET=%s\n' "$N" "$NET" >"$DIR/state"
    log "swarm $NAME: $N node(s) on $NET.0/24 under $DIR"
    docker save -o "$DIR/images.tar" "${IMAGES[@]}" &
    save_pid=$!
    make_network
    for ((k = 1; k <= N; k++)); do start_dockerd "$k"; done
    for ((k = 1; k <= N; k++)); do wait_dockerd "$k"; done
    for ((k = 1; k <= N; k++)); do start_sshd "$k"; done
    dk 1 swarm init --advertise-addr "$(node_addr 1)" >/dev/null
    local token
    token=$(dk 1 swarm join-token -q worker)
    for ((k = 2; k <= N; k++)); do
        dk "$k" swarm join --advertise-addr "$(node_addr "$k")" --token "$token" "$(node_addr 1):2377" >/dev/null &
        pids+=("$!")
    done
    wait "$save_pid" || die "docker save ${IMAGES[*]} failed"
    for ((k = 1; k <= N; k++)); do
        dk "$k" load -q -i "$DIR/images.tar" >/dev/null &
        pids+=("$!")
    done
    for k in "${pids[@]}"; do
        wait "$k" || die "a swarm join or an image load failed (logs: $DIR/${NAME}K/dockerd.log)"
    done
    rm -f "$DIR/images.tar"
    wait_ready
    for ((k = 1; k <= N; k++)); do cat "$(node_dir "$k")/sshd/known_hosts"; done >"$DIR/known_hosts"
    log "swarm $NAME up in $((SECONDS - start)) s: manager $(node_ns 1) at $(node_addr 1), sockets $DIR/${NAME}K/docker.sock"
}

# rig_nodes : node numbers of a rig, from its state or, after a crash, from what is left.
rig_nodes() {
    if read_state; then
        seq 1 "$N"
        return 0
    fi
    {
        ls /run/netns 2>/dev/null
        ls "$DIR" 2>/dev/null
    } | sed -n "s/^$NAME\([0-9][0-9]*\)\$/\1/p" | sort -un
}

# rig_pids K : the processes of node K: those in its network namespace (dockerd, containerd,
# the shims, sshd and its sessions) and those in its containers' cgroups.
rig_pids() {
    local ns
    ns=$(node_ns "$1")
    {
        [[ -e "/run/netns/$ns" ]] && ip netns pids "$ns" 2>/dev/null
        find /sys/fs/cgroup/*/"$CGROUP/$ns" -name cgroup.procs -exec cat {} + 2>/dev/null
        true
    } | sort -un
}

# kill_wait SECONDS PID... : wait for the PIDs to end; false when one is still there.
kill_wait() {
    local t=$1 i p alive
    shift
    for ((i = 0; i < t * 10; i++)); do
        alive=0
        for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || return 0
        sleep 0.1
    done
    return 1
}

# leave_swarm K : node K leaves the swarm, if its engine is there (20 s at most).
leave_swarm() {
    if [[ -S "$(node_sock "$1")" ]]; then
        timeout 20 docker -H "unix://$(node_sock "$1")" swarm leave --force >/dev/null 2>&1 || true
    fi
}

down() {
    local start=$SECONDS k ks=() dir pid pids m i
    need_root
    mapfile -t ks < <(rig_nodes)
    # sshd first (its sessions may use the engines), then leave the swarm, workers first.
    for k in "${ks[@]}"; do
        dir=$(node_dir "$k")
        if [[ -f "$dir/sshd/sshd.pid" ]]; then bash "$RIG_DIR/sshd.sh" stop "$dir/sshd" 2>/dev/null || true; fi
    done
    for k in "${ks[@]}"; do
        if ((k > 1)); then leave_swarm "$k" & fi
    done
    wait
    leave_swarm 1
    # Each dockerd: SIGTERM (it stops its containers and its containerd), then its process group.
    local daemons=()
    for k in "${ks[@]}"; do
        dir=$(node_dir "$k")
        pid=$(cat "$dir/docker.pid" 2>/dev/null || cat "$dir/dockerd.spid" 2>/dev/null || true)
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null; then daemons+=("$pid"); fi
    done
    if ((${#daemons[@]})) && ! kill_wait 30 "${daemons[@]}"; then
        for pid in "${daemons[@]}"; do
            if kill -0 "$pid" 2>/dev/null; then
                log "dockerd $pid still runs after 30 s: killing its process group"
                kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            fi
        done
    fi
    # What is left of each node (containerd, shims, containers, ssh sessions): SIGKILL.
    for k in "${ks[@]}"; do
        mapfile -t pids < <(rig_pids "$k")
        ((${#pids[@]})) || continue
        kill -KILL "${pids[@]}" 2>/dev/null || true
        kill_wait 10 "${pids[@]}" || log "processes of $(node_ns "$k") still running: ${pids[*]}"
    done
    # Mounts dockerd left under the rig (overlays, shm, network namespaces), deepest first.
    for ((i = 0; i < 5; i++)); do
        mapfile -t m < <(awk -v d="$DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
        ((${#m[@]})) || break
        for pid in "${m[@]}"; do umount -l "$pid" 2>/dev/null || true; done
    done
    # The containers' cgroups, deepest first.
    for dir in /sys/fs/cgroup/*/"$CGROUP"; do
        if [[ -d "$dir" ]]; then find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
    done
    for k in "${ks[@]}"; do
        ip netns del "$(node_ns "$k")" 2>/dev/null || true
    done
    ip link del "$HOST_IF" 2>/dev/null || true
    ip netns del "$HUB" 2>/dev/null || true
    rm -rf "$DIR" || die "could not remove $DIR (still mounted? see: grep $DIR /proc/self/mountinfo)"
    for k in "${ks[@]}"; do
        [[ ! -e "/run/netns/$(node_ns "$k")" ]] || die "network namespace $(node_ns "$k") is still there"
    done
    log "swarm $NAME down in $((SECONDS - start)) s"
}

env_lines() {
    local k nodes="" socks=""
    read_state || die "no swarm rig $NAME (run: $0 up $NAME N)"
    for ((k = 1; k <= N; k++)); do
        nodes+="${nodes:+ }$(node_ns "$k")=$(node_addr "$k")"
        socks+="${socks:+ }$(node_ns "$k")=$(node_sock "$k")"
    done
    cat <<ENV
SWARM_DIR=$DIR
SWARM_MANAGER=$(node_ns 1)
SWARM_MANAGER_SOCK=$(node_sock 1)
SWARM_NODES="$nodes"
SWARM_SOCKS="$socks"
SWARM_SSH_PORT=$SSH_PORT
SWARM_KEY=$(node_dir 1)/sshd/client_ed25519
SWARM_KNOWN_HOSTS=$DIR/known_hosts
ENV
}

case "$cmd" in
    up) up "${3:-}" ;;
    down) down ;;
    env) env_lines ;;
    *) usage ;;
esac
