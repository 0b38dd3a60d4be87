# Helpers sourced by the integration tests (*.int): a private network namespace, real DNS servers
# inside it, nftables verdicts, bounded waits, asserts, and a cleanup trap for every exit path.
#
# Network safety: everything here runs inside the namespace this file creates; targets are only
# 127.0.0.0/8, ::1 and fd53::/64 addresses assigned to that namespace's lo.  Every wait is
# bounded in count and in time.
#
# Environment (exported by harness.sh): WATCH53, TESTS_DIR, W53_PYTHON.
# Knobs: W53_WAIT_SECS (server readiness, default 10), W53_KEEP_TMP=1 (keep the temp dir),
# W53_FIXTURE_ONLY=1 (start and verify the servers, do not run watch53).

: "${TESTS_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
: "${W53_PYTHON:=/usr/bin/python3}"
: "${W53_WAIT_SECS:=10}"
: "${WATCH53:=./watch53}"

W53_NS=""
W53_TMP=""
W53_PIDS=()         # every server process this test started
W53_PIDNAMES=()     # a name for each, for messages
W53_CLEANED=""
W53_FAILS=0

w53_info() { printf '# %s\n' "$*"; }
w53_skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
w53_fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# A failure that does not stop the test (so one run reports every mismatch); see w53_finish.
w53_soft_fail() { printf 'FAIL: %s\n' "$*" >&2; W53_FAILS=$((W53_FAILS + 1)); }
w53_finish() {
    if [ "$W53_FAILS" -ne 0 ]; then
        printf 'FAIL: %d check(s) failed\n' "$W53_FAILS" >&2
        exit 1
    fi
    w53_info "PASS"
    exit 0
}

w53_require_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || w53_skip "required command not found: $c"
    done
}

w53_require_watch53() {
    if [ -n "${W53_FIXTURE_ONLY:-}" ]; then
        return 0
    fi
    [ -x "$WATCH53" ] || { printf 'ERROR: WATCH53=%s is not an executable (build it first)\n' \
        "$WATCH53" >&2; exit 99; }
}

# nsx CMD...: run CMD inside the test namespace.
nsx() { ip netns exec "$W53_NS" "$@"; }

# ---------------------------------------------------------------------------------------------
# Namespace and cleanup

# ns_create TESTNAME [ADDR...]: make namespace w53-$$-TESTNAME with lo up, the given fd53::/64
# (or other IPv6) addresses on lo, ICMP rate limits off, a temp dir, and the cleanup trap.
ns_create() {
    local name=$1; shift
    W53_TMP=$(mktemp -d "${TMPDIR:-/tmp}/w53-$name.XXXXXX") || w53_fail "mktemp failed"
    W53_NS="w53-$$-$name"
    trap w53_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ip netns add "$W53_NS" || { W53_NS=""; w53_skip "cannot create network namespace"; }
    nsx ip link set lo up || w53_fail "cannot bring lo up in $W53_NS"
    # ICMP errors are what makes "closed" and "filtered (admin-prohibited)" visible: never let
    # the kernel's rate limits eat them.  Not every kernel has every knob per namespace.
    local kv
    for kv in net.ipv4.icmp_ratelimit=0 net.ipv6.icmp.ratelimit=0 \
              net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000; do
        nsx sysctl -q -w "$kv" >/dev/null 2>&1 || w53_info "note: could not set $kv"
    done
    local a
    for a in "$@"; do ns_add_addr "$a"; done
    w53_info "namespace $W53_NS, temp dir $W53_TMP"
}

# ns_add_addr ADDR: assign an IPv6 address (prefix /64, no DAD) to the namespace's lo.
# 127.0.0.0/8 is local on lo already and needs nothing.
ns_add_addr() {
    case $1 in
        *:*) nsx ip -6 addr add "$1/64" dev lo nodad || w53_fail "cannot add $1 to lo" ;;
        127.*) ;;
        *) w53_fail "refusing non-loopback test address $1" ;;
    esac
}

w53_proc_alive() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

w53_cleanup() {
    local rc=$? pid alive
    [ -n "$W53_CLEANED" ] && return
    W53_CLEANED=1
    trap - EXIT INT TERM
    for pid in "${W53_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 30); do            # at most 3 s for a clean exit
        alive=0
        for pid in "${W53_PIDS[@]}"; do w53_proc_alive "$pid" && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pid in "${W53_PIDS[@]}"; do
        w53_proc_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "$W53_NS" ]; then
        # Anything still inside our namespace was started by this test.
        for pid in $(ip netns pids "$W53_NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns del "$W53_NS" 2>/dev/null || echo "warning: could not delete netns $W53_NS" >&2
    fi
    if [ -n "$W53_TMP" ] && [ -d "$W53_TMP" ]; then
        if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
            # Show the servers' side of the story: it is what a CI log needs to be debuggable.
            local f
            for f in "$W53_TMP"/*.log; do
                [ -s "$f" ] || continue
                echo "---- ${f##*/} (last 30 lines)"
                tail -n 30 "$f"
            done
        fi
        if [ -n "${W53_KEEP_TMP:-}" ]; then
            echo "keeping $W53_TMP"
        else
            rm -rf "$W53_TMP"
        fi
    fi
    exit "$rc"
}

# w53_bg NAME LOG CMD...: start CMD inside the namespace in the background, remember its PID.
# `ip netns exec` execs CMD, so $! is the server itself.
w53_bg() {
    local name=$1 log=$2; shift 2
    ip netns exec "$W53_NS" "$@" >"$log" 2>&1 </dev/null &
    W53_PIDS+=("$!")
    W53_PIDNAMES+=("$name")
    W53_LASTPID=$!
}

# w53_check_alive PID NAME LOG: fail with the server's log if it already died.
w53_check_alive() {
    w53_proc_alive "$1" && return 0
    echo "---- $3" >&2
    tail -n 30 "$3" >&2
    w53_fail "$2 (pid $1) exited during start-up"
}

# ---------------------------------------------------------------------------------------------
# Readiness

# wait_port ADDR [dns|dns-tcp|tcp]: poll (bounded: W53_WAIT_SECS) until ADDR:53 answers a DNS
# query over UDP (dns, the default) or TCP (dns-tcp), or accepts a TCP connection (tcp).
wait_port() {
    local addr=$1 how=${2:-dns} extra=()
    case $how in
        dns) ;;
        dns-tcp) extra=(--tcp) ;;
        tcp) extra=(--connect) ;;
        *) w53_fail "wait_port: unknown kind $how" ;;
    esac
    nsx timeout $((W53_WAIT_SECS + 5)) "$W53_PYTHON" "$TESTS_DIR/dnsq.py" \
        --wait "$W53_WAIT_SECS" "${extra[@]}" "$addr" \
        || w53_fail "server at $addr:53 not ready ($how) after ${W53_WAIT_SECS}s"
}

# dnsq ARGS...: one query with the independent client (see dnsq.py); prints its summary line.
dnsq() { nsx timeout 10 "$W53_PYTHON" "$TESTS_DIR/dnsq.py" "$@"; }

# ---------------------------------------------------------------------------------------------
# Servers

# start_knot ADDR...: knotd, authoritative only, for example.test. on the given addresses.
# Knot never recurses: a query outside its zone gets REFUSED (aa=0).
start_knot() {
    w53_require_cmd knotd
    local d="$W53_TMP/knot" a
    mkdir -p "$d/db" || w53_fail "mkdir $d"
    cat >"$d/example.test.zone" <<'EOF'
$ORIGIN example.test.
$TTL 300
@       SOA  ns.example.test. hostmaster.example.test. 2024010101 3600 900 604800 300
@       NS   ns.example.test.
ns      A    127.53.0.3
ns      AAAA fd53::3
www     A    127.53.0.80
canary  A    127.0.0.99
EOF
    {
        echo "server:"
        echo "    rundir: \"$d\""
        echo "    udp-workers: 1"
        echo "    tcp-workers: 1"
        echo "    background-workers: 1"
        local l="" ; for a in "$@"; do l="$l${l:+, }$a@53"; done
        echo "    listen: [ $l ]"
        echo "log:"
        echo "  - target: stderr"
        echo "    any: info"
        echo "database:"
        echo "    storage: \"$d/db\""
        echo "control:"
        echo "    listen: \"$d/knot.sock\""
        echo "zone:"
        echo "  - domain: example.test."
        echo "    storage: \"$d\""
        echo "    file: \"example.test.zone\""
        echo "    journal-content: none"
        echo "    zonefile-sync: -1"
    } >"$d/knot.conf"
    w53_bg knotd "$W53_TMP/knotd.log" knotd -c "$d/knot.conf"
    local pid=$W53_LASTPID
    for a in "$@"; do
        w53_check_alive "$pid" knotd "$W53_TMP/knotd.log"
        wait_port "$a" dns
    done
    w53_info "knotd (pid $pid) authoritative for example.test. on $*"
}

# start_unbound [--stub ADDR] [--acl ACTION] ADDR...: a real recursive unbound on the given
# addresses.  With --stub, example.test. is a stub zone served by the authoritative server at
# ADDR, so unbound answers names under example.test. recursively (its only reachable
# "internet").  --acl: the access-control action for the test's own clients (127.0.0.0/8,
# ::1, fd53::/64; default allow), e.g. refuse.  One unbound per test (its directory is fixed).
start_unbound() {
    w53_require_cmd unbound
    local stub="" acl=allow a
    while :; do
        case ${1:-} in
            --stub) stub=$2; shift 2 ;;
            --acl) acl=$2; shift 2 ;;
            *) break ;;
        esac
    done
    local d="$W53_TMP/unbound"
    mkdir -p "$d" || w53_fail "mkdir $d"
    {
        echo "server:"
        echo "    verbosity: 1"
        echo "    chroot: \"\""
        echo "    username: \"\""
        echo "    directory: \"$d\""
        echo "    pidfile: \"$d/unbound.pid\""
        echo "    do-daemonize: no"
        echo "    use-syslog: no"
        echo "    logfile: \"\""
        echo "    num-threads: 1"
        echo "    so-reuseport: no"
        echo "    interface-automatic: no"
        echo "    port: 53"
        for a in "$@"; do echo "    interface: $a"; done
        echo "    do-ip4: yes"
        echo "    do-ip6: yes"
        echo "    do-udp: yes"
        echo "    do-tcp: yes"
        echo "    access-control: 0.0.0.0/0 refuse"
        echo "    access-control: ::/0 refuse"
        echo "    access-control: 127.0.0.0/8 $acl"
        echo "    access-control: ::1/128 $acl"
        echo "    access-control: fd53::/64 $acl"
        echo "    module-config: \"iterator\""
        echo "    do-not-query-localhost: no"
        echo "    qname-minimisation: no"
        echo "    outgoing-range: 64"
        echo "    num-queries-per-thread: 32"
        echo "    infra-host-ttl: 5"
        if [ -n "$stub" ]; then
            # test. is one of unbound's default (RFC 6761) local zones: lift it, or it
            # would answer NXDOMAIN itself instead of asking the stub.
            echo "    local-zone: \"test.\" nodefault"
            echo "stub-zone:"
            echo "    name: \"example.test.\""
            echo "    stub-addr: $stub"
        fi
        echo "remote-control:"
        echo "    control-enable: no"
    } >"$d/unbound.conf"
    nsx unbound-checkconf "$d/unbound.conf" >"$W53_TMP/unbound-checkconf.log" 2>&1 \
        || { cat "$W53_TMP/unbound-checkconf.log" >&2; w53_fail "unbound-checkconf rejected the config"; }
    w53_bg unbound "$W53_TMP/unbound.log" unbound -d -c "$d/unbound.conf"
    local pid=$W53_LASTPID
    for a in "$@"; do
        w53_check_alive "$pid" unbound "$W53_TMP/unbound.log"
        wait_port "$a" dns
    done
    w53_info "unbound (pid $pid) on $*${stub:+, example.test. stubbed to $stub}, access-control $acl"
}

# resp_log ADDR: the query log of the responder at ADDR.
resp_log() { printf '%s/resp-%s.log' "$W53_TMP" "$(printf '%s' "$1" | tr ':' '_')"; }

# start_responder ADDR MODE [responder.py options]: responder.py on ADDR:53.  Ready means its
# pidfile exists (written after every socket is bound).
start_responder() {
    local addr=$1 mode=$2; shift 2
    local tag
    tag=$(printf '%s' "$addr" | tr ':' '_')
    local pidf="$W53_TMP/resp-$tag.pid" log
    log=$(resp_log "$addr")
    : >"$log"
    w53_bg "responder $addr $mode" "$W53_TMP/resp-$tag.stderr.log" \
        "$W53_PYTHON" "$TESTS_DIR/responder.py" --addr "$addr" --mode "$mode" \
        --pidfile "$pidf" --log "$log" "$@"
    local pid=$W53_LASTPID
    for _ in $(seq 1 $((W53_WAIT_SECS * 10))); do
        [ -s "$pidf" ] && break
        w53_check_alive "$pid" "responder $addr" "$W53_TMP/resp-$tag.stderr.log"
        sleep 0.1
    done
    [ -s "$pidf" ] || w53_fail "responder at $addr ($mode) not ready after ${W53_WAIT_SECS}s"
    w53_info "responder (pid $pid) $mode on $addr"
}

# count_events ADDR EVENT [KEY=VALUE...]: how many EVENT lines (query, connect) the responder at
# ADDR logged with every given KEY=VALUE field (exact match), e.g. count_events A query qname=.
count_events() {
    local log
    log=$(resp_log "$1"); shift
    awk -v want="$*" '
        BEGIN { n = split(want, w, " "); w[1] = "event=" w[1] }
        { split("", have); for (i = 1; i <= NF; i++) have[$i] = 1
          ok = 1; for (i = 1; i <= n; i++) if (!(w[i] in have)) ok = 0
          if (ok) c++ }
        END { print c + 0 }' "$log"
}

# ---------------------------------------------------------------------------------------------
# nftables verdicts (table inet w53test, input hook: loopback traffic passes it)

nft_init() {
    w53_require_cmd nft
    nsx nft -f - <<'EOF' || w53_fail "nft: cannot create table"
table inet w53test {
    chain input {
        type filter hook input priority 0; policy accept;
    }
}
EOF
}

# _nft_daddr ADDR: the rule's destination match, in the array NFT_M.
_nft_daddr() { case $1 in *:*) NFT_M=(ip6 daddr "$1") ;; *) NFT_M=(ip daddr "$1") ;; esac; }
_nft_add() { nsx nft add rule inet w53test input "$@" || w53_fail "nft add rule $*"; }

# nft_closed ADDR: TCP answered by a reset, UDP by ICMP port unreachable ("closed").
nft_closed() {
    _nft_daddr "$1"
    _nft_add "${NFT_M[@]}" tcp dport 53 reject with tcp reset
    case $1 in
        *:*) _nft_add "${NFT_M[@]}" udp dport 53 reject with icmpv6 type port-unreachable ;;
        *)   _nft_add "${NFT_M[@]}" udp dport 53 reject with icmp type port-unreachable ;;
    esac
}
# nft_drop ADDR: silently drop TCP and UDP to port 53 ("filtered", no-response).
nft_drop() {
    _nft_daddr "$1"
    _nft_add "${NFT_M[@]}" meta l4proto '{ tcp, udp }' th dport 53 drop
}
# nft_drop_counted ADDR: as nft_drop, with a counter on the UDP rule: nft_udp_dropped ADDR
# then says how many UDP datagrams to ADDR:53 were dropped (what a prober sent).
nft_drop_counted() {
    _nft_daddr "$1"
    _nft_add "${NFT_M[@]}" udp dport 53 counter drop
    _nft_add "${NFT_M[@]}" tcp dport 53 drop
}
nft_udp_dropped() {
    nsx nft list chain inet w53test input | awk -v a="$1" '
        { d = 0; u = 0
          for (i = 1; i < NF; i++) { if ($i == "daddr" && $(i + 1) == a) d = 1; if ($i == "udp") u = 1 }
          if (d && u) for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }'
}
# nft_admin ADDR: reject TCP and UDP with ICMP administratively prohibited.
nft_admin() {
    _nft_daddr "$1"
    _nft_add "${NFT_M[@]}" meta l4proto '{ tcp, udp }' th dport 53 reject with icmpx type admin-prohibited
}
# nft_hostunreach ADDR: reject TCP and UDP with ICMP host unreachable.
nft_hostunreach() {
    _nft_daddr "$1"
    _nft_add "${NFT_M[@]}" meta l4proto '{ tcp, udp }' th dport 53 reject with icmpx type host-unreachable
}

# ---------------------------------------------------------------------------------------------
# Running watch53 and asserting

# run_watch53 OUT ERR ARGS...: run watch53 in the namespace (at most 120 s); rc in W53_RC.
# Its stdin is $W53_STDIN (default /dev/null).
run_watch53() {
    local out=$1 err=$2; shift 2
    w53_info "watch53 $*"
    W53_RC=0
    nsx timeout -k 5 120 "$WATCH53" "$@" >"$out" 2>"$err" <"${W53_STDIN:-/dev/null}" \
        || W53_RC=$?
    w53_info "exit code $W53_RC"
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    if [ "$1" = "$2" ]; then
        w53_info "ok: $3 = $2"
    else
        w53_soft_fail "$3: expected [$1], got [$2]"
    fi
}
# assert_ge MIN ACTUAL WHAT
assert_ge() {
    if [ "$2" -ge "$1" ] 2>/dev/null; then
        w53_info "ok: $3 = $2 (>= $1)"
    else
        w53_soft_fail "$3: expected >= $1, got [$2]"
    fi
}
# assert_match ERE ACTUAL WHAT
assert_match() {
    if printf '%s' "$2" | grep -Eq -- "$1"; then
        w53_info "ok: $3 matches /$1/"
    else
        w53_soft_fail "$3: expected a match for /$1/, got [$2]"
    fi
}
# assert_contains FILE TEXT WHAT (fixed string)
assert_contains() {
    if grep -qF -- "$2" "$1"; then
        w53_info "ok: $3 contains [$2]"
    else
        w53_soft_fail "$3: [$2] not found in: $(head -c 400 "$1")"
    fi
}

# ---------------------------------------------------------------------------------------------
# Monitoring cycles (check_*.int)

# nft_del ADDR: delete every rule of the w53test input chain whose destination is ADDR (undoes
# nft_closed / nft_drop / nft_admin / nft_hostunreach for that address).  Fails if none matched.
nft_del() {
    local addr=$1 h n=0
    for h in $(nsx nft -a list chain inet w53test input | awk -v a="$1" '
            { for (i = 1; i < NF; i++) if ($i == "daddr" && $(i + 1) == a) { print $NF; break } }'); do
        nsx nft delete rule inet w53test input handle "$h" || w53_fail "nft delete rule handle $h"
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || w53_fail "nft_del: no rule for $addr"
}

# w53_now_ms: monotonic-enough milliseconds (for durations measured by the test).
w53_now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ns_loss PERCENT: drop PERCENT% of all packets on the namespace's lo, at random, in both
# directions (a query and its reply each pass lo once).  Prefers tc netem; where the kernel has
# no sch_netem (containers often lack the module), an nftables rule at the input hook (every
# packet delivered over lo passes it once) with `numgen random` does the same.  Sets
# W53_LOSS_HOW to "netem" or "nft".  ns_loss_off undoes it.
ns_loss() {
    local pct=$1 err
    if command -v tc >/dev/null 2>&1 &&
        err=$(nsx tc qdisc add dev lo root netem loss "$pct%" 2>&1); then
        W53_LOSS_HOW=netem
    else
        w53_info "tc netem unavailable (${err:-no tc}): using nftables numgen random instead"
        w53_require_cmd nft
        nsx nft -f - <<EOF_LOSS || w53_fail "nft: cannot create the loss table"
table inet w53loss {
    chain input {
        type filter hook input priority -10; policy accept;
        numgen random mod 100 < $pct counter drop
    }
}
EOF_LOSS
        W53_LOSS_HOW=nft
    fi
    w53_info "packet loss $pct% on lo in $W53_NS ($W53_LOSS_HOW)"
}
ns_loss_off() {
    case ${W53_LOSS_HOW:-} in
        netem) nsx tc qdisc del dev lo root ;;
        nft) nsx nft delete table inet w53loss ;;
    esac
    W53_LOSS_HOW=""
}
# ns_loss_counter: packets the nft loss rule dropped so far (empty with netem).
ns_loss_counter() {
    [ "${W53_LOSS_HOW:-}" = nft ] || return 0
    nsx nft list table inet w53loss | awk '/counter/ { for (i = 1; i < NF; i++)
        if ($i == "packets") print $(i + 1) }'
}

# w53_events ARGS...: check_events.py (see there).
w53_events() { "$W53_PYTHON" "$TESTS_DIR/check_events.py" "$@"; }

# w53_promtool_metrics FILE WHAT: FILE passes `promtool check metrics` (Debian's prometheus
# package): the text format as Prometheus parses it (escaping, UTF-8, HELP/TYPE, contiguous
# families) and its lint. A soft failure names WHAT and quotes promtool. Without promtool the
# test is skipped (a hard error under CI=true, see harness.sh): tests that call this list
# promtool in their w53_require_cmd, so the skip comes before any work.
w53_promtool_metrics() {
    local f=$1 what=$2 out
    w53_require_cmd promtool
    if [ ! -s "$f" ]; then
        w53_soft_fail "$what: metrics file $f missing or empty"
        return
    fi
    if out=$(promtool check metrics <"$f" 2>&1); then
        w53_info "ok: $what: promtool check metrics"
    else
        w53_soft_fail "$what: promtool check metrics $f: $(printf '%s' "$out" | tr '\n' ' ')"
    fi
}

# ---------------------------------------------------------------------------------------------
# Alert delivery (alerts_*.int): a test CA, a scripted HTTP(S) webhook receiver (receiver.py)
# on loopback inside the namespace, and its log (hooklog.py).

# w53_make_tls DIR: a throw-away test CA (DIR/ca.pem) and a server certificate signed by it
# (DIR/server.pem, DIR/server.key) for DNS:receiver.test and IP:127.0.0.1, IP:::1.  Made fresh
# in the test's temp dir with the openssl CLI; nothing is ever committed.
w53_make_tls() {
    local d=$1
    w53_require_cmd openssl
    mkdir -p "$d" || w53_fail "mkdir $d"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=watch53 test CA" \
            -keyout "$d/ca.key" -out "$d/ca.pem" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign &&
        openssl req -newkey rsa:2048 -nodes -subj "/CN=receiver.test" \
            -keyout "$d/server.key" -out "$d/server.csr" &&
        printf '%s\n' 'subjectAltName=DNS:receiver.test,IP:127.0.0.1,IP:::1' \
            'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' >"$d/server.ext" &&
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
            -CAcreateserial -days 2 -extfile "$d/server.ext" -out "$d/server.pem"
    } >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; w53_fail "openssl: cannot make the test CA"; }
    chmod 600 "$d"/*.key
}

# recv_log NAME: the JSON-lines request log of receiver NAME.
recv_log() { printf '%s/recv-%s.jsonl' "$W53_TMP" "$1"; }

# start_receiver NAME [receiver.py options]: receiver.py inside the namespace (give it
# --listen 127.0.0.1:PORT[/tls] ...; --cert/--key/--secret/--script as needed).  Ready means its
# pidfile exists (written after every socket is bound).  Its PID is in W53_RECV_PID[NAME].
declare -A W53_RECV_PID=()
start_receiver() {
    local name=$1; shift
    local pidf="$W53_TMP/recv-$name.pid" log
    log=$(recv_log "$name")
    rm -f "$pidf"
    w53_bg "receiver $name" "$W53_TMP/recv-$name.stderr.log" \
        "$W53_PYTHON" "$TESTS_DIR/receiver.py" --pidfile "$pidf" --log "$log" "$@"
    local pid=$W53_LASTPID
    for _ in $(seq 1 $((W53_WAIT_SECS * 10))); do
        [ -s "$pidf" ] && break
        w53_check_alive "$pid" "receiver $name" "$W53_TMP/recv-$name.stderr.log"
        sleep 0.1
    done
    [ -s "$pidf" ] || w53_fail "receiver $name not ready after ${W53_WAIT_SECS}s"
    W53_RECV_PID[$name]=$pid
    w53_info "receiver $name (pid $pid): $*"
}

# stop_receiver NAME: SIGTERM it and wait (bounded, 3 s; then SIGKILL) until it is gone.
stop_receiver() {
    local pid=${W53_RECV_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 30); do w53_proc_alive "$pid" || break; sleep 0.1; done
    w53_proc_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    unset "W53_RECV_PID[$1]"
}

# hooklog ARGS...: hooklog.py (see there).
hooklog() { "$W53_PYTHON" "$TESTS_DIR/hooklog.py" "$@"; }
