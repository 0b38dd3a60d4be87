#!/bin/bash
# checks_bench.sh - what the DNS follow-up checks cost: `watch53 scan --checks all` against
# `watch53 scan` on the benchmark testbed (scan_bench.sh's: testbed.py, responder.py,
# delayer.py), in the same run, several rounds, median wall time of each and their ratio.
# Target: the checks cost at most 2x the scan time (most addresses are not open, and the checks
# run only on the open ones, all queries of an address side by side).
#
#   [WATCH53=/path/to/watch53] tests/bench/checks_bench.sh [N]      (as root; N default 4096)
#
# Also checked, so the figure is about a correct run: both runs report the same state for every
# address, and the checked run carries facts (a "severity") on exactly the addresses with an
# open port in the ground truth, and on no other.
# Exit status: 0 when the benchmark ran (see the PASS/FAIL line), 1 when it could not run.
#
# Knobs (environment): WATCH53 (default <repo>/build/watch53, copied before use), BENCH_SEED
# (53), BENCH_SLOW_MS (250), BENCH_ROUNDS (3), BENCH_CHECK_ARGS (extra options of the checked
# run, e.g. "--zone example.test"), BENCH_KEEP=1 (keep the work directory).
#
# Network safety: every packet goes to 127.100.0.0 + i on lo inside the namespace created here;
# every wait is bounded; the trap kills what was started and deletes the namespace.

if [ -z "${BASH_VERSION:-}" ]; then
    exec /bin/bash "$0" "$@"
fi
set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
PY=/usr/bin/python3
: "${WATCH53:=$REPO/build/watch53}"
: "${BENCH_SEED:=53}"
: "${BENCH_SLOW_MS:=250}"
: "${BENCH_ROUNDS:=3}"
: "${BENCH_CHECK_ARGS:=}"
: "${BENCH_KEEP:=}"

N=${1:-4096}
case $N in ''|*[!0-9]*) echo "usage: checks_bench.sh [N]" >&2; exit 2 ;; esac
[ "$N" -ge 6 ] && [ "$N" -le 1048576 ] || { echo "checks_bench: N must be within 6..1048576" >&2; exit 2; }
case $BENCH_ROUNDS in ''|*[!0-9]*|0) echo "checks_bench: BENCH_ROUNDS must be >= 1" >&2; exit 2 ;; esac
[ "$BENCH_ROUNDS" -le 20 ] || { echo "checks_bench: at most 20 rounds" >&2; exit 2; }

say() { printf '[checks-bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'checks_bench: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespace, nftables, port 53)"
for c in ip nft timeout; do command -v "$c" >/dev/null 2>&1 || die "command not found: $c"; done
"$PY" -c 'import dnslib' 2>/dev/null || die "$PY cannot import dnslib (apt-get install python3-dnslib)"
[ -x "$WATCH53" ] || die "WATCH53=$WATCH53 is not an executable (build it first: ./build.sh)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/w53cbench.XXXXXX") || die "mktemp failed"
NS="w53cbench-$$"
NS_MADE=""
PIDS=()
CLEANED=""

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$? pid
    [ -n "$CLEANED" ] && return
    CLEANED=1
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 50); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    if [ -n "$NS_MADE" ]; then
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$NS" 2>/dev/null || echo "checks_bench: warning: could not delete netns $NS" >&2
    fi
    if [ -n "$BENCH_KEEP" ] || [ "$rc" != 0 ]; then
        echo "checks_bench: work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nsx() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" || die "cannot create network namespace $NS"
NS_MADE=1
nsx ip link set lo up || die "cannot bring lo up in $NS"
for kv in net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 \
          net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000 \
          net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
          "net.ipv4.ip_local_port_range=1024 65535"; do
    nsx sysctl -q -w "$kv" >/dev/null 2>&1 || say "note: could not set $kv"
done
cp "$WATCH53" "$WORK/watch53" || die "cannot copy $WATCH53"
W53="$WORK/watch53"

"$PY" "$BENCH_DIR/testbed.py" gen --n "$N" --seed "$BENCH_SEED" --dir "$WORK" \
    || die "testbed generation failed"
nsx nft -f "$WORK/nft.conf" || die "nft rejected $WORK/nft.conf"

start_bg() {    # start_bg NAME PIDFILE CMD...
    local name=$1 pidf=$2 pid; shift 2
    ip netns exec "$NS" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do
        [ -s "$pidf" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; die "$name exited during start-up"; }
        sleep 0.1
    done
    [ -s "$pidf" ] || die "$name not ready after 10 s"
}
BOUND=$((600 + BENCH_ROUNDS * 2 * (120 + N / 100)))
start_bg responder "$WORK/responder.pid" \
    "$PY" "$BENCH_DIR/responder.py" --pidfile "$WORK/responder.pid" --max-runtime "$BOUND"
start_bg delayer "$WORK/delayer.pid" \
    "$PY" "$BENCH_DIR/delayer.py" --delay-ms "$BENCH_SLOW_MS" --pidfile "$WORK/delayer.pid" \
    --max-runtime "$BOUND"
say "verifying the testbed"
nsx timeout 60 "$PY" "$BENCH_DIR/testbed.py" verify --truth "$WORK/truth.tsv" \
    --slow-ms "$BENCH_SLOW_MS" >"$WORK/verify.txt" 2>&1 \
    || { cat "$WORK/verify.txt"; die "testbed does not match its ground truth"; }
tail -n 1 "$WORK/verify.txt"

# run LABEL ARGS...: one scan, its wall time in ms appended to LABEL.ms.
LIMIT=$((120 + N / 100))
run() {
    local label=$1 t0 t1 rc; shift
    t0=$(date +%s%N)
    nsx timeout -k 10 "$LIMIT" "$W53" scan --format jsonl --no-progress "$@" "@$WORK/targets.txt" \
        >"$WORK/$label.jsonl" 2>"$WORK/$label.err" </dev/null
    rc=$?
    t1=$(date +%s%N)
    [ "$rc" = 0 ] || [ "$rc" = 1 ] || die "$label: watch53 exit $rc: $(head -n 3 "$WORK/$label.err")"
    echo $(( (t1 - t0) / 1000000 )) >>"$WORK/$label.ms"
    say "$label: $(( (t1 - t0) / 1000000 )) ms, $(wc -l <"$WORK/$label.jsonl") records"
    sleep 1     # the last replies drain before the next run
}
for r in $(seq 1 "$BENCH_ROUNDS"); do
    say "round $r of $BENCH_ROUNDS"
    run plain
    # shellcheck disable=SC2086  # the extra options are split on purpose
    run checks --checks all $BENCH_CHECK_ARGS
done

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
PLAIN=$(median "$WORK/plain.ms")
CHECKS=$(median "$WORK/checks.ms")

# Correctness of the last pair of runs against the ground truth and each other.
"$PY" - "$WORK/truth.tsv" "$WORK/plain.jsonl" "$WORK/checks.jsonl" >"$WORK/verdict.txt" <<'EOF'
import json, sys
truth = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    addr, t, u, cls = line.split()[:4]
    truth[addr] = (t, u, cls)
def load(p):
    return {r["address"]: r for r in map(json.loads, open(p))}
plain, checks = load(sys.argv[2]), load(sys.argv[3])
bad = []
open_addrs = {a for a, (t, u, _) in truth.items() if "open" in (t, u)}
for a in truth:
    p, c = plain.get(a), checks.get(a)
    if p is None or c is None:
        bad.append("%s: missing record" % a)
        continue
    for proto in ("tcp", "udp"):
        if p[proto]["state"] != c[proto]["state"]:
            bad.append("%s %s: %s without checks, %s with" % (a, proto, p[proto]["state"], c[proto]["state"]))
    if ("severity" in c) != (a in open_addrs):
        bad.append("%s (%s): checks %s" % (a, truth[a][2], "ran" if "severity" in c else "did not run"))
    if "severity" in p:
        bad.append("%s: facts without --checks" % a)
checked = sum("severity" in c for c in checks.values())
print("checked %d addresses (%d with an open port in the ground truth)" % (checked, len(open_addrs)))
for b in bad[:20]:
    print("MISMATCH " + b)
sys.exit(1 if bad else 0)
EOF
VERDICT=$?
cat "$WORK/verdict.txt"
RATIO=$(awk -v c="$CHECKS" -v p="$PLAIN" 'BEGIN { printf "%.2f", c / p }')
echo
echo "watch53 scan on $N addresses (seed $BENCH_SEED, slow-open ${BENCH_SLOW_MS} ms), median of $BENCH_ROUNDS:"
echo "  without checks:  $PLAIN ms   (runs: $(tr '\n' ' ' <"$WORK/plain.ms"))"
echo "  --checks all:    $CHECKS ms   (runs: $(tr '\n' ' ' <"$WORK/checks.ms"))${BENCH_CHECK_ARGS:+ with $BENCH_CHECK_ARGS}"
echo "  ratio:           ${RATIO}x (target <= 2x)"
if awk -v r="$RATIO" 'BEGIN { exit !(r <= 2.0) }' && [ "$VERDICT" = 0 ]; then
    echo "PASS: the checks cost ${RATIO}x the scan time, and both runs agree with the ground truth"
else
    echo "FAIL: ratio ${RATIO}x, verdict $([ "$VERDICT" = 0 ] && echo ok || echo 'MISMATCH (above)')"
fi
exit 0
