#!/bin/bash
# scan_bench.sh - watch53 scan vs nmap: wall time, peak RSS and accuracy on a testbed of N
# loopback addresses with known port-53 behaviour.  `make bench` runs it (N=4096).
#
#   [WATCH53=/path/to/watch53] tests/bench/scan_bench.sh [N]        (as root; N default 4096)
#
# What it does, all inside a network namespace it creates and deletes again:
#   1. lo up, ICMP rate limits off, deep TCP backlogs; N addresses 127.100.0.0 + i, each given a
#      class from a fixed seed (testbed.py): closed 55% (nft reject: TCP reset, ICMP port
#      unreachable), filtered 38% (nft drop), open 4% (responder.py: one wildcard DNS server that
#      answers from the probed address), slow-open 2% (open, every packet to it held back
#      BENCH_SLOW_MS by delayer.py: a netem substitute), tcp-only 0.5%, udp-only 0.5% (open on
#      one protocol, rejected on the other).  Ground truth: truth.tsv.  The testbed is verified
#      with an independent client before anything is timed, and again after.
#   2. times (/usr/bin/time -v: wall clock, peak RSS)
#        watch53 scan --format jsonl --no-progress @targets.txt             (defaults)
#        watch53 scan --format jsonl --no-progress BENCH_TUNED_ARGS @targets.txt  (tuned)
#        watch53 scan --format jsonl --no-progress --rate BENCH_RATE @targets.txt    (at zmap's rate)
#        zmap -M tcp_synscan, then zmap -M udp with a DNS query, both at BENCH_RATE, from a
#          second namespace joined to the testbed's by a veth pair (as syn_bench.sh does for
#          masscan): zmap frames its packets for the veth peer's MAC address and reads the
#          answers there with libpcap, its own path (frames injected into lo never reach the
#          testbed). The testbed namespace routes 127/8 over that veth (route_localnet), so
#          zmap probes the very addresses, rules and servers watch53 does; only the slow-open
#          class is not delayed for it (the delayer works on lo's output path). One timed pair.
#        nmap -n -Pn -sT -sU -p53 -oX nmap.xml -iL targets.txt
#   3. accuracy.py: per class and overall, TCP and UDP, each tool against the ground truth.
#   4. a summary with PASS/FAIL lines: watch53 >= 5x faster than nmap (>= 20x from N=65536),
#      100% on every deterministic class, peak RSS < 64 MB.  The headline is the defaults run.
# Exit status: 0 when the benchmark ran (even if a target was missed: see the FAIL lines),
# 1 when it could not run (not root, missing packages, testbed wrong, no binary).
#
# Knobs (environment):
#   WATCH53              binary under test (default: <repo>/build/watch53); copied before use,
#                        so a rebuild during the run does not change what is measured
#   BENCH_SEED           testbed seed (default 53)
#   BENCH_SLOW_MS        slow-open delay in ms (default 250)
#   BENCH_TUNED_ARGS     the tuned run's options (default "--rate 0 --concurrency 4096
#                        --timeout 500ms"); BENCH_TUNED_ARGS=none skips that run
#   BENCH_SKIP_NMAP=1    do not run nmap (no speed comparison)
#   BENCH_RATE           packets per second of the rate run and of zmap (default 100000)
#   BENCH_SKIP_ZMAP=1    do not run zmap (no watch53/zmap ratio)
#   BENCH_NOFILE         open file limit (soft and hard) for every run (default 524288, the
#                        hard limit systemd gives sessions: watch53 derives TCP concurrency
#                        from it)
#   BENCH_NMAP_TIMEOUT   seconds nmap may take (default 300 + N/20)
#   BENCH_W53_TIMEOUT    seconds one watch53 run may take (default 120 + N/100)
#   BENCH_BIN_WAIT       seconds to wait for a missing binary to appear (default 300)
#   BENCH_KEEP=1         keep the work directory (results, logs) instead of deleting it
#   BENCH_OUT=DIR        copy results, logs and the summary to DIR
#
# Network safety: every packet goes to 127.100.0.0 + i on lo inside the namespace created here
# (zmap's reach it over a veth pair between two namespaces created here, nothing else);
# every wait is bounded in count and in time; the trap kills what was started and deletes the
# namespace on every exit path.

if [ -z "${BASH_VERSION:-}" ]; then     # `make bench` runs it with sh
    exec /bin/bash "$0" "$@"
fi
set -u

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
PY=/usr/bin/python3
: "${WATCH53:=$REPO/build/watch53}"
: "${BENCH_SEED:=53}"
: "${BENCH_SLOW_MS:=250}"
: "${BENCH_TUNED_ARGS:=--rate 0 --concurrency 4096 --timeout 500ms}"
: "${BENCH_SKIP_NMAP:=}"
: "${BENCH_RATE:=100000}"
: "${BENCH_SKIP_ZMAP:=}"
: "${BENCH_NOFILE:=524288}"
: "${BENCH_BIN_WAIT:=300}"
: "${BENCH_KEEP:=}"
: "${BENCH_OUT:=}"

N=${1:-4096}
case $N in
    ''|*[!0-9]*) echo "usage: scan_bench.sh [N]   (N: number of addresses, 1..1048576)" >&2; exit 2 ;;
esac
if [ "$N" -lt 1 ] || [ "$N" -gt 1048576 ]; then
    echo "scan_bench: N must be within 1..1048576" >&2; exit 2
fi
case $BENCH_SLOW_MS in ''|*[!0-9]*) echo "scan_bench: BENCH_SLOW_MS must be an integer" >&2; exit 2 ;; esac
: "${BENCH_NMAP_TIMEOUT:=$((300 + N / 20))}"
: "${BENCH_W53_TIMEOUT:=$((120 + N / 100))}"

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'scan_bench: ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Prerequisites

[ "$(id -u)" = 0 ] || die "must run as root (network namespace, nftables, port 53, raw sockets)"

pkg_ok() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
missing=()
for p in nftables iproute2 python3-dnslib time; do
    pkg_ok "$p" || missing+=("$p")
done
if ! pkg_ok nmap; then
    say "nmap is not installed: apt-get install -y nmap"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y nmap >/dev/null 2>&1 \
        || missing+=("nmap")
fi
if [ -z "$BENCH_SKIP_ZMAP" ] && ! pkg_ok zmap; then
    say "zmap is not installed: apt-get install -y zmap"
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y zmap >/dev/null 2>&1 \
        || missing+=("zmap")
fi
if [ ${#missing[@]} -gt 0 ]; then
    die "missing packages: ${missing[*]} (apt-get install ${missing[*]})"
fi
for c in ip nft nmap timeout; do
    command -v "$c" >/dev/null 2>&1 || die "command not found: $c"
done
[ -x /usr/bin/time ] || die "/usr/bin/time not found (apt-get install time)"
[ -x "$PY" ] || die "$PY not found"
"$PY" -c 'import dnslib' 2>/dev/null || die "$PY cannot import dnslib (apt-get install python3-dnslib)"

# The binary: wait (bounded) if it is being rebuilt right now.
waited=0
while [ ! -x "$WATCH53" ] && [ "$waited" -lt "$BENCH_BIN_WAIT" ]; do
    [ "$waited" = 0 ] && say "waiting up to ${BENCH_BIN_WAIT}s for $WATCH53 to appear"
    sleep 10
    waited=$((waited + 10))
done
[ -x "$WATCH53" ] || die "WATCH53=$WATCH53 is not an executable (build it first: ./build.sh)"

# ---------------------------------------------------------------------------------------------
# Work dir, namespace, cleanup

WORK=$(mktemp -d "${TMPDIR:-/tmp}/w53bench.XXXXXX") || die "mktemp failed"
NS="w53bench-$$"
NS_MADE=""
NSZ="w53bench-z-$$"     # zmap's namespace (the scanner end of the veth pair)
NSZ_MADE=""
PIDS=()
CLEANED=""
BENCH_OK=""

# The trap may fire inside a command whose output is redirected (a timed run): fds 3 and 4 keep
# the script's own stdout and stderr for the cleanup's messages.
exec 3>&1 4>&2
# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$? pid alive
    [ -n "$CLEANED" ] && return
    CLEANED=1
    trap - EXIT INT TERM
    exec 1>&3 2>&4
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 50); do                        # at most 5 s for a clean exit
        alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    if [ -n "$NS_MADE" ]; then
        # Anything still inside our namespace was started by this script.
        for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$NS" 2>/dev/null || echo "scan_bench: warning: could not delete netns $NS" >&2
    fi
    if [ -n "$NSZ_MADE" ]; then
        for pid in $(ip netns pids "$NSZ" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$NSZ" 2>/dev/null || echo "scan_bench: warning: could not delete netns $NSZ" >&2
    fi
    if [ -n "$BENCH_OUT" ] && [ -d "$WORK" ]; then
        mkdir -p "$BENCH_OUT" && cp -a "$WORK"/. "$BENCH_OUT"/ 2>/dev/null \
            && echo "scan_bench: results copied to $BENCH_OUT"
    fi
    if [ -d "$WORK" ]; then
        if [ -n "$BENCH_KEEP" ] || [ -z "$BENCH_OK" ]; then
            echo "scan_bench: work directory kept: $WORK"
        else
            rm -rf "$WORK"
        fi
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
# ICMP errors are what make "closed" visible: no rate limit may eat them (the kernel exempts
# loopback from the per-destination limit, not from the global one; ratemask=0 exempts all).
# Deep accept/SYN queues so the open class never loses a handshake to a full backlog.
for kv in net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_ratemask=0 \
          net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000 \
          net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
          "net.ipv4.ip_local_port_range=1024 65535"; do
    nsx sysctl -q -w "$kv" >/dev/null 2>&1 || say "note: could not set $kv"
done

# zmap's way in: a veth pair from its own namespace. zmap sends raw Ethernet frames to the
# gateway MAC it is given and captures the answers on its interface, so it needs a real link:
# frames it injects into lo are never received by the stack. The testbed side accepts 127/8
# from that link and answers over it (route_localnet), reverse-path filtering off as in
# syn_bench.sh. zmap's namespace has no route to 127.100/16 at all: its kernel drops the
# answers as martians, so it neither resets nor answers them; zmap reads its copies.
if [ -z "$BENCH_SKIP_ZMAP" ]; then
    ip netns add "$NSZ" || die "cannot create network namespace $NSZ"
    NSZ_MADE=1
    ip -n "$NSZ" link set lo up || die "cannot bring lo up in $NSZ"
    ip -n "$NSZ" link add w53zs type veth peer name w53zt netns "$NS" || die "cannot create the veth pair"
    ip -n "$NSZ" addr add 198.19.0.1/30 dev w53zs || die "cannot address w53zs"
    ip -n "$NS" addr add 198.19.0.2/30 dev w53zt || die "cannot address w53zt"
    ip -n "$NSZ" link set w53zs up && ip -n "$NS" link set w53zt up || die "cannot bring the veth up"
    for kv in net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.w53zt.route_localnet=1 \
              net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.w53zt.rp_filter=0; do
        nsx sysctl -q -w "$kv" >/dev/null 2>&1 || die "cannot set $kv (zmap would see nothing)"
    done
    ip netns exec "$NSZ" sysctl -q -w net.ipv4.conf.all.rp_filter=0 >/dev/null 2>&1
    ZMAC=$(ip -n "$NS" -o link show w53zt | grep -o 'link/ether [0-9a-f:]*' | awk '{ print $2 }')
    SMAC=$(ip -n "$NSZ" -o link show w53zs | grep -o 'link/ether [0-9a-f:]*' | awk '{ print $2 }')
    [ -n "$ZMAC" ] && [ -n "$SMAC" ] || die "cannot read the MAC addresses of the veth pair"
    # The testbed would ask for zmap's MAC with an ARP request from 127.100.x.y, which zmap's
    # kernel ignores (a loopback sender): every answer would wait for a neighbour that never
    # resolves. A permanent entry takes ARP out of the path.
    ip -n "$NS" neigh replace 198.19.0.1 lladdr "$SMAC" dev w53zt nud permanent \
        || die "cannot add the neighbour entry for zmap's end"
fi

# A private copy of the binary: a rebuild during the run must not change what is measured.
cp "$WATCH53" "$WORK/watch53" || die "cannot copy $WATCH53"
W53="$WORK/watch53"
W53_VERSION=$("$W53" --version 2>&1 | head -n 1)

say "N=$N, namespace $NS, work dir $WORK"
say "watch53: $WATCH53 ($W53_VERSION, $(stat -c '%y' "$WATCH53" | cut -d. -f1), sha256 $(sha256sum "$W53" | cut -c1-12))"
say "nmap: $(nmap --version | head -n 1)"

# ---------------------------------------------------------------------------------------------
# Testbed

"$PY" "$BENCH_DIR/testbed.py" gen --n "$N" --seed "$BENCH_SEED" --dir "$WORK" \
    || die "testbed generation failed"
nsx nft -f "$WORK/nft.conf" || die "nft rejected $WORK/nft.conf"

# start_bg NAME PIDFILE CMD...: start CMD in the namespace, wait (bounded) for its pidfile.
start_bg() {
    local name=$1 pidf=$2 pid; shift 2
    # Not through nsx: a function run in the background is a subshell, and $! would be that
    # subshell.  A plain command is exec'd, and `ip netns exec` execs CMD: $! is the server.
    ip netns exec "$NS" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do                       # at most 10 s
        [ -s "$pidf" ] && break
        kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; die "$name exited during start-up"; }
        sleep 0.1
    done
    [ -s "$pidf" ] || die "$name not ready after 10 s"
    LAST_PID=$pid
}
RUNTIME_BOUND=$((BENCH_NMAP_TIMEOUT + 3 * BENCH_W53_TIMEOUT + 600))
start_bg responder "$WORK/responder.pid" \
    "$PY" "$BENCH_DIR/responder.py" --pidfile "$WORK/responder.pid" --max-runtime "$RUNTIME_BOUND"
PID_responder=$LAST_PID
start_bg delayer "$WORK/delayer.pid" \
    "$PY" "$BENCH_DIR/delayer.py" --delay-ms "$BENCH_SLOW_MS" --pidfile "$WORK/delayer.pid" \
    --max-runtime "$RUNTIME_BOUND"
PID_delayer=$LAST_PID

servers_alive() {
    local ok=0
    kill -0 "$PID_responder" 2>/dev/null || { say "responder (pid $PID_responder) is gone"; ok=1; }
    kill -0 "$PID_delayer" 2>/dev/null || { say "delayer (pid $PID_delayer) is gone"; ok=1; }
    return $ok
}

say "verifying the testbed (independent client, sampled per class)"
nsx timeout 60 "$PY" "$BENCH_DIR/testbed.py" verify --truth "$WORK/truth.tsv" \
    --slow-ms "$BENCH_SLOW_MS" | tee "$WORK/verify-before.txt"
[ "${PIPESTATUS[0]}" = 0 ] || die "testbed does not match its ground truth: not timing anything"

# ---------------------------------------------------------------------------------------------
# Timed runs

ulimit -n "$BENCH_NOFILE" 2>/dev/null || say "note: could not set the open file limit to $BENCH_NOFILE"
NOFILE=$(ulimit -n)
# run_timed LABEL LIMIT OUTFILE CMD...: CMD in the namespace under /usr/bin/time -v, at most
# LIMIT seconds; stdout to OUTFILE, stderr to LABEL.err, time report to LABEL.time.
# Around the run: the servers' counters are reset (SIGUSR1) and read again, and the kernel's
# drop counters are compared, so a wrong state can be pinned on the testbed or on the tool.
RUN_NS=$NS              # where run_timed runs its command (zmap: $NSZ)
run_timed() {
    local label=$1 limit=$2 out=$3 rc; shift 3
    say "run $label: $*"
    nsx "$PY" "$BENCH_DIR/testbed.py" kstat snap "$WORK/$label.kstat"
    kill -USR1 "$PID_responder" "$PID_delayer" 2>/dev/null
    sleep 0.2
    ip netns exec "$RUN_NS" timeout -k 10 "$limit" /usr/bin/time -v -o "$WORK/$label.time" "$@" \
        >"$out" 2>"$WORK/$label.err" </dev/null
    rc=$?
    kill -USR1 "$PID_responder" "$PID_delayer" 2>/dev/null
    sleep 0.3
    {
        echo "$label $(nsx "$PY" "$BENCH_DIR/testbed.py" kstat diff "$WORK/$label.kstat")"
        echo "$label $(grep -h '^responder:' "$WORK/responder.log" | tail -n 1)"
        echo "$label $(grep -h '^delayer:' "$WORK/delayer.log" | tail -n 1)"
    } >"$WORK/$label.evidence"
    sed 's/^/    /' "$WORK/$label.evidence"
    [ "$rc" = 124 ] && say "run $label: TIMED OUT after ${limit}s"
    say "run $label: exit $rc, $(grep -F 'Elapsed (wall clock)' "$WORK/$label.time" 2>/dev/null \
        | sed 's/.*: //') wall, $(grep -F 'Maximum resident' "$WORK/$label.time" 2>/dev/null \
        | sed 's/.*: //') kB peak RSS, $(wc -l <"$out") output lines"
    if [ -s "$WORK/$label.err" ]; then
        say "run $label: stderr (first 5 lines):"
        head -n 5 "$WORK/$label.err" | sed 's/^/    /'
    fi
    servers_alive || say "WARNING: a testbed server died during $label: its results are suspect"
    sleep 1                                         # let the last replies drain
}

RUNS=()
run_timed w53-default "$BENCH_W53_TIMEOUT" "$WORK/w53-default.jsonl" \
    "$W53" scan --format jsonl --no-progress "@$WORK/targets.txt"
RUNS+=(--run "watch53-defaults=watch53:$WORK/w53-default.jsonl:$WORK/w53-default.time")

if [ "$BENCH_TUNED_ARGS" != none ]; then
    # shellcheck disable=SC2086  # word splitting of the option list is intended
    run_timed w53-tuned "$BENCH_W53_TIMEOUT" "$WORK/w53-tuned.jsonl" \
        "$W53" scan --format jsonl --no-progress $BENCH_TUNED_ARGS "@$WORK/targets.txt"
    RUNS+=(--run "watch53-tuned=watch53:$WORK/w53-tuned.jsonl:$WORK/w53-tuned.time")
fi

run_timed w53-rate "$BENCH_W53_TIMEOUT" "$WORK/w53-rate.jsonl" \
    "$W53" scan --format jsonl --no-progress --rate "$BENCH_RATE" "@$WORK/targets.txt"
RUNS+=(--run "watch53-rate=watch53:$WORK/w53-rate.jsonl:$WORK/w53-rate.time")

ZMAP=()
if [ -z "$BENCH_SKIP_ZMAP" ]; then
    # zmap takes CIDR blocks, not a list: the testbed's addresses summarised; nothing denied
    # (its default deny list holds 127.0.0.0/8). The query: ". NS", no RD, like watch53's.
    "$PY" -c '
import ipaddress, sys
a = sorted(ipaddress.ip_address(l.strip()) for l in open(sys.argv[1]) if l.strip())
runs, lo, hi = [], a[0], a[0]
for x in a[1:]:
    if int(x) == int(hi) + 1:
        hi = x
    else:
        runs.append((lo, hi)); lo = hi = x
runs.append((lo, hi))
for lo, hi in runs:
    for n in ipaddress.summarize_address_range(lo, hi):
        print(n)
' "$WORK/targets.txt" >"$WORK/zmap-allow.txt" || die "cannot summarise the targets for zmap"
    : >"$WORK/zmap-deny.txt"
    ZQ=5353000000010000000000000000020001
    ZCOMMON="-q --disable-syslog -i w53zs -G $ZMAC -S 198.19.0.1 -p 53 -r $BENCH_RATE"
    ZCOMMON="$ZCOMMON -c 1 -b $WORK/zmap-deny.txt -w $WORK/zmap-allow.txt -O csv"
    ZCOMMON="$ZCOMMON --output-filter='success = 0 || success = 1' -f saddr,classification,success"
    # UDP: an ICMP unreachable is classified "icmp-unreach" whatever its code; only the code
    # (icmp_unreach_str: port-unreach, host-unreach, ...) tells closed from filtered
    RUN_NS=$NSZ
    run_timed zmap "$BENCH_W53_TIMEOUT" "$WORK/zmap.out" /bin/sh -c \
        "zmap $ZCOMMON -M tcp_synscan -o $WORK/zmap-tcp.csv && \
         zmap $ZCOMMON,icmp_unreach_str -M udp --probe-args=hex:$ZQ -o $WORK/zmap-udp.csv"
    RUN_NS=$NS
    RUNS+=(--run "zmap=zmap:$WORK/zmap-tcp.csv,$WORK/zmap-udp.csv:$WORK/zmap.time")
    ZMAP=(--zmap zmap --zmap-target watch53-rate)
fi

BASELINE=()
if [ -z "$BENCH_SKIP_NMAP" ]; then
    run_timed nmap "$BENCH_NMAP_TIMEOUT" "$WORK/nmap.out" \
        nmap -n -Pn -sT -sU -p53 -oX "$WORK/nmap.xml" -iL "$WORK/targets.txt"
    RUNS+=(--run "nmap=nmap:$WORK/nmap.xml:$WORK/nmap.time")
    BASELINE=(--baseline nmap)
fi

say "re-verifying the testbed after the runs"
nsx timeout 60 "$PY" "$BENCH_DIR/testbed.py" verify --truth "$WORK/truth.tsv" \
    --slow-ms "$BENCH_SLOW_MS" >"$WORK/verify-after.txt" 2>&1
VERIFY_AFTER=$?
tail -n 1 "$WORK/verify-after.txt"

# Firewall counters and server counters: evidence for where packets went.
nsx nft list ruleset >"$WORK/nft-counters.txt" 2>&1
for pid in "$PID_responder" "$PID_delayer"; do kill -TERM "$pid" 2>/dev/null; done
for _ in $(seq 1 50); do
    kill -0 "$PID_responder" 2>/dev/null || kill -0 "$PID_delayer" 2>/dev/null || break
    sleep 0.1
done

# ---------------------------------------------------------------------------------------------
# Accuracy and summary

SPEED_TARGET=5
[ "$N" -ge 65536 ] && SPEED_TARGET=20
SLOW_NOTE="slow-open delay ${BENCH_SLOW_MS} ms (deterministic: well inside 500 ms and 1 s timeouts)"
DET=closed,filtered,open,slow-open,tcp-only,udp-only
if [ "$BENCH_SLOW_MS" -gt 250 ]; then
    DET=closed,filtered,open,tcp-only,udp-only
    SLOW_NOTE="slow-open delay ${BENCH_SLOW_MS} ms (not counted: too close to the tuned timeout)"
fi
echo
"$PY" "$BENCH_DIR/accuracy.py" --truth "$WORK/truth.tsv" "${RUNS[@]}" \
    --summary --headline watch53-defaults "${BASELINE[@]}" "${ZMAP[@]}" --n "$N" \
    --speed-target "$SPEED_TARGET" --rss-limit-mb 64 --deterministic "$DET" \
    --note "watch53: $WATCH53 ($W53_VERSION)" \
    --note "defaults run: watch53 scan --format jsonl --no-progress @targets.txt" \
    --note "tuned run:    same + ${BENCH_TUNED_ARGS}" \
    --note "rate run:     watch53 scan --format jsonl --no-progress --rate $BENCH_RATE @targets.txt" \
    --note "zmap run:     zmap -M tcp_synscan, then -M udp (DNS . NS), -r $BENCH_RATE -c 1 -P 1, over veth from its own netns" \
    --note "nmap run:     nmap -n -Pn -sT -sU -p53 -oX nmap.xml -iL targets.txt" \
    --note "headline: watch53 with its defaults vs nmap; $SLOW_NOTE" \
    --note "testbed: seed $BENCH_SEED, 127.100.0.0 + i on lo in netns $NS; verified before: ok, after: $([ "$VERIFY_AFTER" = 0 ] && echo ok || echo FAILED)" \
    --evidence "$WORK/w53-default.evidence" --evidence "$WORK/w53-tuned.evidence" \
    --evidence "$WORK/w53-rate.evidence" --evidence "$WORK/zmap.evidence" \
    --evidence "$WORK/nmap.evidence" \
    --note "ulimit -n $NOFILE, $(nproc) CPUs, kernel $(uname -r)" \
    | tee "$WORK/summary.txt"
if [ "$VERIFY_AFTER" != 0 ]; then
    echo "WARNING: the testbed failed re-verification after the runs:"
    cat "$WORK/verify-after.txt"
fi
BENCH_OK=1
exit 0
