#!/bin/bash
# syn_bench.sh - `watch53 scan --syn --no-udp` vs `masscan -p53`: wall time and accuracy on
# the same N addresses (default 65,536) in the same run.  Target: watch53 within 2x of
# masscan's time at full accuracy.
#
#   [WATCH53=/path/to/watch53] tests/bench/syn_bench.sh [N]        (as root)
#
# The testbed is two network namespaces this script creates and deletes (trap on every exit
# path), joined by a veth pair, so both tools take their Ethernet path (SYNs framed for the
# gateway's MAC address, answers read with libpcap):
#   scanner ns: w53s 198.19.0.1/30, route 198.18.0.0/16 via 198.19.0.2
#   target ns:  w53t 198.19.0.2/30, 198.18.0.0 + i local on lo (a local route for the /16),
#               testbed.py's classes by nftables (closed: TCP reset, filtered: drop), open
#               ones answered by the kernel for responder.py's wildcard listener
# 198.18.0.0/15 is the benchmarking range (RFC 2544), assigned inside these namespaces only.
# Nothing else is ever probed; every wait is bounded in count and in time.
#
# Runs (each under /usr/bin/time -v, each twice in alternation; the better time counts):
#   watch53 scan --syn --no-udp --rate R --concurrency C --timeout T --format jsonl @targets
#   masscan -p53 --rate R --wait W --adapter w53s --router-mac MAC --show closed -oL out -iL targets
# Accuracy: TCP open/closed/filtered per address against the ground truth (masscan reports
# open and closed; an address it does not list is filtered).
#
# Knobs: BENCH_RATE (default 100000 pps, both tools), BENCH_TIMEOUT (watch53 --timeout and
# masscan --wait, seconds, default 1), BENCH_CONC (watch53 --concurrency, default 65536),
# BENCH_SEED (53), BENCH_KEEP=1 (keep the work dir), BENCH_OUT=DIR (copy results there).
# Exit 0 when the benchmark ran (a missed target is a FAIL line), 1 when it could not run.

set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
PY=/usr/bin/python3
: "${WATCH53:=$REPO/build/watch53}"
: "${BENCH_RATE:=100000}"
: "${BENCH_TIMEOUT:=1}"
: "${BENCH_CONC:=65536}"
: "${BENCH_SEED:=53}"
: "${BENCH_KEEP:=}"
: "${BENCH_OUT:=}"
N=${1:-65536}

say() { printf '[syn-bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'syn_bench: ERROR: %s\n' "$*" >&2; exit 1; }

case $N in ''|*[!0-9]*) die "N must be a number" ;; esac
[ "$N" -ge 1 ] && [ "$N" -le 65536 ] || die "N must be within 1..65536 (one /16)"
[ "$(id -u)" = 0 ] || die "must run as root (namespaces, raw sockets)"
for p in masscan nftables iproute2 python3-dnslib time; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        say "$p is not installed: apt-get install -y $p"
        DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -q "$p" >/dev/null 2>&1 \
            || die "cannot install $p"
    fi
done
[ -x "$WATCH53" ] || die "WATCH53=$WATCH53 is not an executable (build it first)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/w53synbench.XXXXXX") || die "mktemp"
NSS="w53synb-s-$$"
NST="w53synb-t-$$"
PIDS=()
OK=""
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    sleep 0.3
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for ns in "$NSS" "$NST"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
    [ -n "$BENCH_OUT" ] && mkdir -p "$BENCH_OUT" && cp -a "$WORK"/. "$BENCH_OUT"/
    if [ -n "$BENCH_KEEP" ] || [ -z "$OK" ]; then echo "syn_bench: work dir kept: $WORK"
    else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the testbed -------------------------------------------------------------------------------
ip netns add "$NSS" && ip netns add "$NST" || die "cannot create namespaces"
ip -n "$NSS" link set lo up
ip -n "$NST" link set lo up
ip -n "$NSS" link add w53s type veth peer name w53t netns "$NST" || die "veth"
ip -n "$NSS" addr add 198.19.0.1/30 dev w53s
ip -n "$NST" addr add 198.19.0.2/30 dev w53t
ip -n "$NSS" link set w53s up
ip -n "$NST" link set w53t up
# every target address local on the target's lo, without the /16's broadcast address
ip -n "$NST" addr add 198.18.0.1/32 dev lo
ip -n "$NST" route add local 198.18.0.0/16 dev lo
ip -n "$NSS" route add 198.18.0.0/16 via 198.19.0.2
for kv in net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 net.core.somaxconn=65535 \
          net.ipv4.tcp_max_syn_backlog=65535 net.ipv4.conf.all.rp_filter=0 \
          net.ipv4.conf.default.rp_filter=0 net.ipv4.tcp_syncookies=0; do
    ip netns exec "$NST" sysctl -q -w "$kv" >/dev/null 2>&1 || say "note: could not set $kv"
done
ip netns exec "$NSS" sysctl -q -w net.ipv4.conf.all.rp_filter=0 >/dev/null 2>&1
MAC=$(ip -n "$NST" -o link show w53t | grep -o 'link/ether [0-9a-f:]*' | awk '{ print $2 }')

"$PY" "$BENCH_DIR/testbed.py" gen --n "$N" --seed "$BENCH_SEED" --base 198.18.0.0 --dir "$WORK" \
    || die "testbed generation"
ip netns exec "$NST" nft -f "$WORK/nft.conf" || die "nft rejected the ruleset"
ip netns exec "$NST" "$PY" "$BENCH_DIR/responder.py" --pidfile "$WORK/responder.pid" \
    --max-runtime 900 >"$WORK/responder.log" 2>&1 </dev/null &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -s "$WORK/responder.pid" ] && break; sleep 0.1; done
[ -s "$WORK/responder.pid" ] || die "responder not ready"
# the slow class has no delayer here (its packets never pass the target's output hook): open
say "verifying the testbed from the scanner namespace"
ip netns exec "$NSS" timeout 120 "$PY" "$BENCH_DIR/testbed.py" verify --truth "$WORK/truth.tsv" \
    --slow-ms 0 >"$WORK/verify.txt" 2>&1 || { cat "$WORK/verify.txt"; die "testbed wrong"; }
tail -n 1 "$WORK/verify.txt"
cp "$WATCH53" "$WORK/watch53"

# --- the runs ----------------------------------------------------------------------------------
run() {     # run LABEL CMD...: time -v in the scanner namespace, stdout to LABEL.out
    local label=$1; shift
    ip netns exec "$NSS" timeout -k 5 600 /usr/bin/time -v -o "$WORK/$label.time" "$@" \
        >"$WORK/$label.out" 2>"$WORK/$label.err" </dev/null
    echo "$label rc=$? $(grep 'Elapsed (wall' "$WORK/$label.time" | sed 's/.*: //')" >>"$WORK/runs.txt"
    sleep 1
}
for round in 1 2; do
    say "round $round: watch53 --syn"
    run "w53-$round" "$WORK/watch53" scan --syn --no-udp -v --no-progress --format jsonl \
        --rate "$BENCH_RATE" --concurrency "$BENCH_CONC" --timeout "${BENCH_TIMEOUT}s" \
        "@$WORK/targets.txt"
    say "round $round: masscan"
    run "masscan-$round" masscan -p53 --rate "$BENCH_RATE" --wait "$BENCH_TIMEOUT" \
        --adapter w53s --adapter-ip 198.19.0.1 --router-mac "${MAC//:/-}" --show closed \
        -oL "$WORK/masscan-$round.list" -iL "$WORK/targets.txt"
done
cat "$WORK/runs.txt"

# --- accuracy and the summary ------------------------------------------------------------------
OK=1
"$PY" - "$WORK" "$N" "$BENCH_RATE" "$BENCH_TIMEOUT" "$BENCH_CONC" <<'EOF'
import json, os, re, sys
work, n, rate, tmo, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
truth = {}
for line in open(os.path.join(work, "truth.tsv")):
    if not line.startswith("#"):
        a, t, _, c = line.split()
        truth[a] = t
def wall(label):
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)",
                  open(os.path.join(work, label + ".time")).read())
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + float(s)
def watch53(label):
    got = {}
    for line in open(os.path.join(work, label + ".out")):
        r = json.loads(line)
        got[r["address"]] = r["tcp"]["state"]
    return got
def masscan(label):
    got = {a: "filtered" for a in truth}
    for line in open(os.path.join(work, label + ".list")):
        f = line.split()
        if len(f) >= 4 and f[1] == "tcp" and f[0] in ("open", "closed"):
            got[f[3]] = f[0]
    return got
def accuracy(got):
    per = {}
    for a, t in truth.items():
        ok = got.get(a) == t
        c = per.setdefault(t, [0, 0])
        c[0] += ok
        c[1] += 1
    right = sum(v[0] for v in per.values())
    return right, per
rows = []
for tool, load in (("watch53 --syn", watch53), ("masscan", masscan)):
    best = None
    for rnd in (1, 2):
        label = ("w53-%d" if tool.startswith("watch53") else "masscan-%d") % rnd
        t = wall(label)
        right, per = accuracy(load(label))
        if best is None or t < best[0]:
            best = (t, right, per, label)
    rows.append((tool,) + best)
print()
print("SYN scan benchmark: N=%d addresses (198.18.0.0/16 behind a veth gateway), TCP port 53,"
      " rate %s pps, wait %ss" % (n, rate, tmo))
for tool, t, right, per, label in rows:
    cls = ", ".join("%s %d/%d" % (k, v[0], v[1]) for k, v in sorted(per.items()))
    print("  %-14s %7.2f s   accuracy %6.2f%% (%s)   [%s]" % (tool, t, 100.0 * right / n, cls, label))
w, m = rows[0], rows[1]
ratio = w[1] / m[1] if m[1] > 0 else float("inf")
print("  watch53 / masscan time: %.2fx (target: <= 2x)" % ratio)
print("%s: watch53 within 2x of masscan's time" % ("PASS" if ratio <= 2.0 else "FAIL"))
print("%s: watch53 full accuracy (%d/%d)" % ("PASS" if w[2] == n else "FAIL", w[2], n))
print("note: watch53 --concurrency %s --timeout %ss (retries inside the window, default 2);"
      " masscan --wait %s (its retries would add a second each)" % (conc, tmo, tmo))
EOF
grep -h "SYN mode" "$WORK"/w53-*.err | sed 's/^/  /' | sort -u
exit 0
