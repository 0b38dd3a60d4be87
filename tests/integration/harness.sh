#!/bin/bash
# harness.sh - the automake LOG_COMPILER for tests/integration/*.int (INT_LOG_COMPILER).
#
#   harness.sh [FLAGS...] path/to/test.int      (automake passes the script last)
#
# Checks what every integration test needs (root, network namespaces, /usr/bin/python3 with
# dnslib), exports the environment the tests read, and runs the script with bash under an
# overall time limit.  Exit codes follow the automake parallel harness:
#   0 pass, 1 fail, 77 skip, 99 hard error.
# A skip (here, or exit 77 from the script) becomes 99 when CI=true: in CI, a test that cannot
# run is a broken CI machine, not a reason to go green.
#
# Exports: WATCH53 (the binary under test; default $abs_top_builddir/watch53, else ./watch53,
# made absolute), TESTS_DIR (this directory: lib.sh, responder.py, ...), W53_PYTHON.
# Knobs: W53_INT_TIMEOUT (seconds for one .int, default 300), plus those listed in lib.sh.

set -u

if [ $# -lt 1 ]; then
    echo "usage: harness.sh [FLAGS...] TEST.int" >&2
    exit 99
fi
script=${!#}
name=$(basename "$script" .int)

# skip REASON: 77, or 99 in CI.
skip() {
    if [ "${CI:-}" = true ]; then
        echo "ERROR: $name cannot run: $1 (CI=true: a skip is a hard error)"
        exit 99
    fi
    echo "SKIP: $name: $1"
    exit 77
}

[ -r "$script" ] || { echo "ERROR: no such test script: $script" >&2; exit 99; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables, port 53)"
command -v ip >/dev/null 2>&1 || skip "iproute2 'ip' not found"
command -v timeout >/dev/null 2>&1 || skip "coreutils 'timeout' not found"

probe="w53-probe-$$"
if ! err=$(ip netns add "$probe" 2>&1); then
    skip "cannot create a network namespace (ip netns add: ${err:-failed})"
fi
if ! err=$(ip netns exec "$probe" ip link set lo up 2>&1); then
    ip netns del "$probe" 2>/dev/null
    skip "cannot enter a network namespace (ip netns exec: ${err:-failed})"
fi
ip netns del "$probe" 2>/dev/null

export W53_PYTHON=/usr/bin/python3
[ -x "$W53_PYTHON" ] || skip "$W53_PYTHON not found"
"$W53_PYTHON" -c 'import dnslib' 2>/dev/null \
    || skip "$W53_PYTHON cannot import dnslib (apt-get install python3-dnslib)"

TESTS_DIR=$(cd "$(dirname "$script")" && pwd) || exit 99
export TESTS_DIR

if [ -z "${WATCH53:-}" ]; then
    if [ -n "${abs_top_builddir:-}" ]; then
        WATCH53=$abs_top_builddir/watch53
    else
        WATCH53=./watch53
    fi
fi
case $WATCH53 in
    /*) ;;
    *) WATCH53=$PWD/${WATCH53#./} ;;
esac
export WATCH53

limit=${W53_INT_TIMEOUT:-300}
echo "# $name: WATCH53=$WATCH53 TESTS_DIR=$TESTS_DIR (time limit ${limit}s)"
# Without a terminal as stdin; the script's own traps clean up when timeout sends TERM.
timeout -k 15 "$limit" bash "$script" </dev/null
rc=$?
case $rc in
    0)   echo "# $name: PASS" ;;
    77)  skip "the test skipped itself (see above)" ;;
    124|137) echo "ERROR: $name: took longer than ${limit}s"; rc=99 ;;
    99)  echo "ERROR: $name: hard error" ;;
    *)   echo "FAIL: $name (exit $rc)"; [ "$rc" -ge 1 ] && [ "$rc" -le 125 ] || rc=1 ;;
esac
exit "$rc"
