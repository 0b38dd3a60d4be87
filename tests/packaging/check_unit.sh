#!/bin/sh
# check_unit: the systemd unit keeps its sandbox. systemd-analyze rates its exposure at
# MAX_EXPOSURE (2.0) or lower, offline so that it works where systemd is not running (CI
# containers), and the settings the packages and the README rely on are all there.
#   check_unit.sh [UNIT]     default: packaging/systemd/watch53.service beside $WATCH53
set -u
max=${MAX_EXPOSURE:-2.0}
unit=${1:-$(dirname "${WATCH53:-./watch53}")/packaging/systemd/watch53.service}

# the house rule of the integration harness: a check that cannot run fails CI
skip() {
	echo "check_unit: SKIP: $1"
	[ "${CI:-}" = true ] && exit 99
	exit 77
}

[ -f "$unit" ] || { echo "check_unit: $unit: no such file ('make' builds it)"; exit 99; }
command -v systemd-analyze >/dev/null 2>&1 || skip "systemd-analyze not found (apt-get install systemd)"
systemd-analyze security --help 2>/dev/null | grep -q -- --offline ||
	skip "systemd-analyze has no --offline (systemd 250 or newer is needed)"

fail=0
bad() { echo "check_unit: $1"; fail=1; }

grep -n '@[a-z_]*@' "$unit" && bad "placeholders left unsubstituted"
for line in Type=notify User=watch53 Group=watch53 StateDirectory=watch53 \
	CapabilityBoundingSet= AmbientCapabilities= NoNewPrivileges=yes ProtectSystem=strict \
	ProtectHome=yes PrivateTmp=yes PrivateDevices=yes SystemCallFilter=@system-service \
	'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -qxF -- "$line" "$unit" || bad "'$line' is missing"
done
grep -q '^ExecStart=/.*/watch53 run -c /.*/watch53\.json$' "$unit" || bad "ExecStart is not 'watch53 run -c CONFIG'"

out=$(SYSTEMD_COLORS=0 systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
rc=$?
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
	printf '%s\n' "$out"
	bad "systemd-analyze printed no exposure level (exit $rc)"
elif awk -v s="$score" -v m="$max" 'BEGIN { exit !(s > m) }'; then
	# the lines that cost something, so the log says what to fix
	printf '%s\n' "$out" | grep '✗'
	bad "exposure $score is above $max"
else
	echo "check_unit: $unit: exposure $score (at most $max)"
fi
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
