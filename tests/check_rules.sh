#!/bin/sh
# check_rules: the Prometheus side of watch53 with Prometheus' own promtool (Debian package
# prometheus): the shipped alerting rules (packaging/watch53.rules.yml) and README.md's
# excerpt of them pass `promtool check rules`; the shipped ones pass their unit tests
# (tests/data/watch53.rules.test.yml: the open resolver alert fires from watch53_finding);
# a metrics file written by a real `watch53 check` (against 127.0.0.1 only, with a vantage
# and a target name that need escaping) passes `promtool check metrics`.
# Without promtool: skip, a failure under CI=true.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${WATCH53:-./watch53}
if ! command -v promtool >/dev/null 2>&1; then
	if [ "${CI:-}" = true ]; then
		echo "check_rules: promtool not found (apt-get install prometheus) (CI=true: a failure)"
		exit 1
	fi
	echo "SKIP: check_rules: promtool not found (apt-get install prometheus)"
	exit 77
fi
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
no() { printf 'check_rules: %s\n' "$*"; fail=1; }

promtool check rules "$src/packaging/watch53.rules.yml" >"$tmp/rules" 2>&1 ||
	no "promtool check rules packaging/watch53.rules.yml: $(cat "$tmp/rules")"
promtool test rules "$src/tests/data/watch53.rules.test.yml" >"$tmp/rtest" 2>&1 ||
	no "promtool test rules tests/data/watch53.rules.test.yml: $(cat "$tmp/rtest")"
# the rules README.md shows (the first yaml block of its Prometheus section) pass as well
awk '/^### Prometheus \(node_exporter/ { in_s = 1; next }
     in_s && /^```yaml/ { code = 1; next }
     code && /^```/ { exit }
     code { print }' "$src/README.md" >"$tmp/readme.rules.yml"
if [ -s "$tmp/readme.rules.yml" ]; then
	promtool check rules "$tmp/readme.rules.yml" >"$tmp/rrules" 2>&1 ||
		no "promtool check rules on README.md's example: $(cat "$tmp/rrules")"
else
	no "README.md's Prometheus section has no yaml block of rules"
fi

# loopback only: whatever answers on 127.0.0.1:53 here (nothing, or a local resolver), the
# file must parse
cat >"$tmp/w.json" <<JSON
{"targets": [{"target": "127.0.0.1", "name": "lo \\\\ \\"one\\"", "expect": {"tcp": "open"}}],
 "state_dir": "$tmp/state", "metrics_file": "$tmp/w.prom",
 "probe": {"timeout": "300ms", "retries": 0, "checks": ["recursion", "version"]},
 "vantage": "lab \\"w\\u00e9st\\" \\\\ 1"}
JSON
"$bin" check -c "$tmp/w.json" >"$tmp/out" 2>&1
rc=$?
[ $rc = 0 ] || [ $rc = 1 ] || no "watch53 check against 127.0.0.1: exit $rc: $(cat "$tmp/out")"
if [ -s "$tmp/w.prom" ]; then
	promtool check metrics <"$tmp/w.prom" >"$tmp/lint" 2>&1 ||
		no "promtool check metrics on the file of a check: $(cat "$tmp/lint")"
	grep -q '^watch53_port_open{address="127.0.0.1",protocol="tcp",target="lo \\\\ \\"one\\"",expect="open",vantage="lab \\"w.*st\\" \\\\ 1"} [01]$' "$tmp/w.prom" ||
		no "no watch53_port_open line with the escaped target, expect and vantage: $(head -n 5 "$tmp/w.prom")"
else
	no "watch53 check wrote no metrics file: $(cat "$tmp/out")"
fi
[ $fail = 0 ] && echo "check_rules: rules, their tests and a check's metrics pass promtool"
exit $fail
