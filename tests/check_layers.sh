#!/bin/sh
# check_layers: keep the layout honest (STYLE.md). common/ includes nothing of ours,
# probes/ knows nothing of agent/ or alerts/, alerts/ nothing of probes/ or agent/, and each
# third-party header stays in the one file that wraps it.
set -u
src=${1:-$(dirname "$0")/..}
cd "$src" || exit 99
fail=0

bad() { echo "check_layers: $1"; fail=1; }

for f in common/*.[ch]; do
	grep -Hn '#include "\(probes\|agent\|alerts\)/' "$f" && bad "$f must not include probes/, agent/ or alerts/"
done
for f in probes/*.[ch]; do
	[ -e "$f" ] || continue
	grep -Hn '#include "\(agent\|alerts\)/' "$f" && bad "$f must not include agent/ or alerts/"
done
for f in alerts/*.[ch]; do
	[ -e "$f" ] || continue
	grep -Hn '#include "\(agent\|probes\)/' "$f" && bad "$f must not include agent/ or probes/"
done
# third-party headers and the files allowed to include them; an allowed file that no longer
# includes its header is a stale entry, reported too, so the lists say who does today
only_in() {
	hdr=$1
	shift
	users=$(grep -l "#include <$hdr" common/*.[ch] probes/*.[ch] agent/*.[ch] alerts/*.[ch] 2>/dev/null)
	for f in $users; do
		ok=0
		for allowed in "$@"; do
			case "$f" in $allowed) ok=1 ;; esac
		done
		[ $ok = 1 ] || bad "$f includes <$hdr>; ${*:+only }${*:-no file} may"
	done
	for allowed in "$@"; do
		case " $(echo $users) " in *" $allowed "*) ;; *) bad "stale entry: $allowed no longer includes <$hdr>" ;; esac
	done
}
only_in 'curl/' 'alerts/webhook.c'
only_in 'pcap' 'probes/capture.c'
only_in 'openssl/' 'alerts/sign.c' 'alerts/event.c' 'probes/cookie.c'
only_in 'sqlite3' 'agent/state_db.c'
only_in 'json-c/' 'agent/amsync.c' 'agent/cmd_history.c' 'agent/config.c' \
	'agent/jsonw.h' 'agent/output.c' \
	'agent/scandiff.c' 'agent/state.c' 'alerts/alertmanager.c' 'alerts/event.c' \
	'alerts/format.c' 'alerts/outbox.c'
# json-c's headers only by their <json-c/...> path
only_in 'json.h'

if [ $fail = 0 ]; then
	echo "1 passed, 0 failed"
	exit 0
fi
echo "0 passed, 1 failed"
exit 1
