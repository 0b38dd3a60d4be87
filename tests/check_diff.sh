#!/bin/sh
# check_diff: `watch53 diff` on pairs of saved scans (tests/data/diff): a scan against
# itself in the other file form is no change (exit 0); Monday against Tuesday lists what
# opened, what changed (recursion on, a version with terminal escapes printed as data) and
# what was added (exit 1), in table and jsonl; a file that is no scan is one line naming it
# (exit 2). The real binary, no network.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${WATCH53:-./watch53}
d="$src/tests/data/diff"
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
no() { echo "check_diff: $*"; fail=1; }

"$bin" diff "$d/monday.jsonl" "$d/monday-again.json" >"$tmp/same" 2>&1
rc=$?
[ $rc = 0 ] || no "the same scan as jsonl and json: exit $rc, not 0: $(cat "$tmp/same")"
grep -qx '0 changes: 0 opened, 0 closed, 0 changed, 0 added, 0 removed (3 addresses before, 3 after)' \
	"$tmp/same" || no "the same scan: summary [$(cat "$tmp/same")]"

"$bin" diff "$d/monday.jsonl" "$d/tuesday.jsonl" >"$tmp/table" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] || no "monday against tuesday: exit $rc, not 1"
cat >"$tmp/want" <<'WANT'
changed  192.0.2.5:53           dns.ra           false -> true
changed  192.0.2.5:53           dns.rcode        "REFUSED" -> "NOERROR"
changed  192.0.2.5:53           dns.recursion    - -> true
changed  192.0.2.5:53           dns.version      "9.18.19" -> "9.18.24 \u001b[31mpwned\u001b[0m"
changed  192.0.2.5:53           severity         high -> critical
changed  192.0.2.5:53           findings         tcp-open,udp-open -> open-resolver,tcp-open,udp-open
opened   192.0.2.9:53           tcp              filtered -> open
added    192.0.2.10:53          -                - -> tcp=closed udp=closed
8 changes: 1 opened, 0 closed, 6 changed, 1 added, 0 removed (3 addresses before, 4 after)
WANT
diff -u "$tmp/want" "$tmp/table" >"$tmp/d" || no "monday against tuesday, table: $(cat "$tmp/d")"
# no byte of a terminal escape reaches the terminal
if tr -d '\n' <"$tmp/table" | grep -q "$(printf '\033')"; then no "an escape byte was printed"; fi

"$bin" diff --format jsonl "$d/monday.jsonl" "$d/tuesday.jsonl" >"$tmp/jsonl"
rc=$?
[ $rc = 1 ] || no "jsonl: exit $rc, not 1"
[ "$(wc -l <"$tmp/jsonl")" = 8 ] || no "jsonl: $(wc -l <"$tmp/jsonl") lines, not 8"
grep -qxF '{"type":"opened","address":"192.0.2.9","port":53,"field":"tcp","previous":"filtered","current":"open"}' \
	"$tmp/jsonl" || no "jsonl: no opened object for 192.0.2.9 [$(cat "$tmp/jsonl")]"

"$bin" diff "$d/monday.jsonl" "$d/not-a-scan.jsonl" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] || no "a file that is no scan: exit $rc, not 2"
grep -qx "watch53 diff: $d/not-a-scan.jsonl:1: no \"address\" that is an IP address: not a scan record" \
	"$tmp/err" || no "a file that is no scan: [$(cat "$tmp/err")]"
"$bin" diff "$d/monday.jsonl" >/dev/null 2>&1
rc=$?
[ $rc = 2 ] || no "one file: exit $rc, not 2"

[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
