#!/bin/bash
# state_bench.sh - `watch53 check` at scale: wall time, peak RSS, state.db size and bytes
# written per cycle for a /16 (65,536 addresses) and 1,048,576 addresses (a /12), the whole
# monitoring cycle as cron runs it (scan, rechecks, judge, commit).
#
#   [WATCH53=/path/to/watch53] tests/bench/state_bench.sh [N...]     (as root)
#       N: address counts, each a power of two from 256 to 1048576 (default: 65536 1048576)
#
# For each N, inside a network namespace it creates and deletes again (trap on every exit):
#   1. the testbed of scan_bench.sh (testbed.py: closed 55% nft reject, filtered 38% nft drop,
#      open 4% responder.py, slow-open 2% delayer.py, tcp-only/udp-only 0.5% each) on the
#      prefix BASE/(32 - log2 N): 127.100.0.0/16 for a /16, 127.96.0.0/12 for 1,048,576;
#      verified with an independent client first;
#   2. a config with that prefix as its one target, state_dir on disk, no sinks;
#   3. BENCH_CYCLES (default 2) cycles, then, where N <= BENCH_QUIET_MAX_N (default 65536),
#      more until a cycle raises nothing and writes no row but meta (a quiet cycle: with
#      confirm.closed 3 that is the 4th); each under /usr/bin/time -v: wall clock, peak RSS,
#      and the bytes the process wrote (ru_oublock x 512: the kernel's write_bytes, what
#      /proc/self/io counts); state.db's size after each.
#   4. a summary with the issue's targets as PASS/FAIL lines: second cycle <= 64 MB peak RSS
#      at a /16 and <= 128 MB at 1,048,576; state.db <= 64 MB at 1,048,576; a quiet /16 cycle
#      writes <= 1 MB. The script exits 0 whenever the benchmark ran (a missed target is a
#      FAIL line), 1 when it could not run.
#
# Knobs: WATCH53 (default <repo>/build/watch53, copied before use), BENCH_SEED (53),
# BENCH_CYCLES (2), BENCH_QUIET_MAX_N (65536), BENCH_MAX_QUIET (4: extra cycles at most),
# BENCH_W53_TIMEOUT (seconds a cycle may take; default 300 + N/1000), BENCH_KEEP=1 (keep the
# work directory), BENCH_OUT=DIR (copy results there).
#
# Network safety: every packet goes to the testbed's addresses on lo inside the namespace
# created here; every run is bounded in time; the trap kills what was started.

if [ -z "${BASH_VERSION:-}" ]; then
    exec /bin/bash "$0" "$@"
fi
set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
PY=/usr/bin/python3
: "${WATCH53:=$REPO/build/watch53}"
: "${BENCH_SEED:=53}"
: "${BENCH_CYCLES:=2}"
: "${BENCH_QUIET_MAX_N:=65536}"
: "${BENCH_MAX_QUIET:=4}"
: "${BENCH_KEEP:=}"
: "${BENCH_OUT:=}"
SIZES=("$@")
[ ${#SIZES[@]} -eq 0 ] && SIZES=(65536 1048576)

say() { printf '[state-bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'state_bench: ERROR: %s\n' "$*" >&2; exit 1; }

for n in "${SIZES[@]}"; do
    case $n in 256|512|1024|2048|4096|8192|16384|32768|65536|131072|262144|524288|1048576) ;;
        *) echo "usage: state_bench.sh [N...]  (N a power of two, 256..1048576)" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || die "must run as root (network namespace, nftables, port 53)"
for c in ip nft timeout sqlite3; do
    command -v "$c" >/dev/null 2>&1 || die "command not found: $c"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
"$PY" -c 'import dnslib' 2>/dev/null || die "$PY cannot import dnslib (apt-get install python3-dnslib)"
[ -x "$WATCH53" ] || die "WATCH53=$WATCH53 is not an executable (build it first: ./build.sh)"

# on disk, not tmpfs: the kernel counts bytes written to a file system that has a device
WORK=$(mktemp -d /var/tmp/w53state.XXXXXX) || die "mktemp failed"
NS=""
PIDS=()
CLEANED=""
BENCH_OK=""
exec 3>&1 4>&2
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$? pid
    [ -n "$CLEANED" ] && return
    CLEANED=1
    trap - EXIT INT TERM
    exec 1>&3 2>&4
    stop_servers
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    if [ -n "$BENCH_OUT" ] && [ -d "$WORK" ]; then
        mkdir -p "$BENCH_OUT" && cp -a "$WORK"/. "$BENCH_OUT"/ 2>/dev/null
    fi
    if [ -n "$BENCH_KEEP" ] || [ -z "$BENCH_OK" ]; then
        echo "state_bench: work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
# shellcheck disable=SC2317
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 50); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    if [ -n "$NS" ]; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    fi
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() { ip netns exec "$NS" "$@"; }
cp "$WATCH53" "$WORK/watch53" || die "cannot copy $WATCH53"
W53=$WORK/watch53
say "watch53: $WATCH53 ($("$W53" --version 2>&1 | head -n 1), sha256 $(sha256sum "$W53" | cut -c1-12)); $(nproc) CPUs"

# start_bg NAME PIDFILE CMD...: CMD in the namespace; wait (bounded) for its pidfile.
start_bg() {
    local name=$1 pidf=$2 pid; shift 2
    ip netns exec "$NS" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        [ -s "$pidf" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; die "$name exited during start-up"; }
        sleep 0.1
    done
    die "$name not ready after 10 s"
}

# testbed N BASE: a fresh namespace with the testbed of N addresses from BASE.
testbed() {
    local n=$1 base=$2 dir=$WORK/tb-$1 kv
    stop_servers
    [ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
    NS="w53state-$$-$n"
    ip netns add "$NS" || die "cannot create network namespace $NS"
    nsx ip link set lo up || die "cannot bring lo up"
    for kv in net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 \
              net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000 \
              net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
              "net.ipv4.ip_local_port_range=1024 65535"; do
        nsx sysctl -q -w "$kv" >/dev/null 2>&1 || say "note: could not set $kv"
    done
    mkdir -p "$dir"
    "$PY" "$BENCH_DIR/testbed.py" gen --n "$n" --seed "$BENCH_SEED" --dir "$dir" --base "$base" \
        >"$dir/classes.txt" || die "testbed generation failed"
    nsx nft -f "$dir/nft.conf" || die "nft rejected $dir/nft.conf"
    start_bg "responder-$n" "$dir/responder.pid" "$PY" "$BENCH_DIR/responder.py" \
        --pidfile "$dir/responder.pid" --max-runtime 7200
    start_bg "delayer-$n" "$dir/delayer.pid" "$PY" "$BENCH_DIR/delayer.py" --delay-ms 250 \
        --pidfile "$dir/delayer.pid" --max-runtime 7200
    nsx timeout 120 "$PY" "$BENCH_DIR/testbed.py" verify --truth "$dir/truth.tsv" \
        --slow-ms 250 >"$dir/verify.txt" 2>&1 || { cat "$dir/verify.txt"; die "testbed does not match its ground truth"; }
    say "testbed $n: $(tr '\n' ' ' <"$dir/classes.txt")"
}

# cycle N K: the K-th `watch53 check` of size N, timed; one line in $WORK/results.tsv:
# N K exit wall_s rss_kb written_bytes db_bytes events
cycle() {
    local n=$1 k=$2 dir=$WORK/tb-$1 cfg=$WORK/tb-$1/watch53.json label rc wall rss outb db ev
    label=$dir/cycle-$k
    nsx timeout -k 10 "${BENCH_W53_TIMEOUT:-$((300 + n / 1000))}" /usr/bin/time -v \
        -o "$label.time" "$W53" check -c "$cfg" --format jsonl >"$label.out" 2>"$label.err" </dev/null
    rc=$?
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$label.time")
    rss=$(awk -F': ' '/Maximum resident/ { print $2 }' "$label.time")
    outb=$(awk -F': ' '/File system outputs/ { print $2 * 512 }' "$label.time")
    db=$(stat -c %s "$dir/state/state.db" 2>/dev/null || echo 0)
    ev=$(wc -l <"$label.out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$k" "$rc" "$wall" "$rss" "$outb" "$db" "$ev" \
        >>"$WORK/results.tsv"
    say "N=$n cycle $k: exit $rc, ${wall} s, peak RSS $((rss / 1024)) MB, wrote $((outb / 1024)) KB, state.db $((db / 1024)) KB, $ev events"
    [ -s "$label.err" ] && head -n 3 "$label.err" | sed 's/^/    /'
    LAST_EVENTS=$ev
}

: >"$WORK/results.tsv"
for n in "${SIZES[@]}"; do
    bits=0
    while [ $((1 << bits)) -lt "$n" ]; do bits=$((bits + 1)); done
    base=127.100.0.0
    [ "$n" -gt 65536 ] && base=127.96.0.0   # a /12 and smaller stay aligned there
    testbed "$n" "$base"
    cat >"$WORK/tb-$n/watch53.json" <<EOF
{
  "targets": ["$base/$((32 - bits))"],
  "state_dir": "$WORK/tb-$n/state",
  "max_hosts": $n
}
EOF
    for k in $(seq 1 "$BENCH_CYCLES"); do cycle "$n" "$k"; done
    if [ "$n" -le "$BENCH_QUIET_MAX_N" ]; then
        k=$BENCH_CYCLES
        while [ $((k - BENCH_CYCLES)) -lt "$BENCH_MAX_QUIET" ]; do
            k=$((k + 1))
            cycle "$n" "$k"
            [ "$LAST_EVENTS" = 0 ] && [ "$k" -gt 3 ] && break
        done
        echo "$n $k" >>"$WORK/quiet.txt"
    fi
    sqlite3 "$WORK/tb-$n/state/state.db" 'SELECT count(*) FROM entries' >"$WORK/tb-$n/rows.txt"
done
stop_servers

# ---------------------------------------------------------------------------------------------
echo
echo "== state_bench summary ($(nproc) CPUs, kernel $(uname -r))"
printf '%-8s %-5s %-4s %8s %10s %12s %12s %7s\n' N cycle exit wall_s peakRSS_MB written_KB state.db_MB events
awk -F'\t' '{ printf "%-8s %-5s %-4s %8s %10.1f %12.1f %12.1f %7s\n", $1, $2, $3, $4, $5 / 1024,
    $6 / 1024, $7 / 1048576, $8 }' "$WORK/results.tsv"
verdict() {     # verdict WHAT VALUE LIMIT UNIT
    if awk -v v="$2" -v l="$3" 'BEGIN { exit !(v <= l) }'; then
        echo "PASS: $1: $2 $4 (target <= $3 $4)"
    else
        echo "FAIL: $1: $2 $4 (target <= $3 $4)"
    fi
}
row() { awk -F'\t' -v n="$1" -v k="$2" -v c="$3" '$1 == n && $2 == k { print $c }' "$WORK/results.tsv"; }
for n in "${SIZES[@]}"; do
    rss2=$(row "$n" 2 5)
    [ -n "$rss2" ] || continue
    case $n in
        65536) verdict "second cycle peak RSS at /16" "$((rss2 / 1024))" 64 MB ;;
        1048576) verdict "second cycle peak RSS at 1,048,576" "$((rss2 / 1024))" 128 MB
                 verdict "state.db at 1,048,576" "$(( $(row "$n" 2 7) / 1048576 ))" 64 MB ;;
    esac
done
if [ -f "$WORK/quiet.txt" ]; then
    while read -r n k; do
        ev=$(row "$n" "$k" 8)
        w=$(row "$n" "$k" 6)
        if [ "$ev" = 0 ] && [ "$n" = 65536 ]; then
            verdict "quiet /16 cycle ($k) writes" "$((w / 1024))" 1024 KB
        elif [ "$ev" = 0 ]; then
            echo "quiet cycle ($k) at N=$n writes $((w / 1024)) KB"
        else
            echo "FAIL: N=$n: no quiet cycle within $BENCH_MAX_QUIET extra cycles"
        fi
    done <"$WORK/quiet.txt"
fi
BENCH_OK=1
exit 0
