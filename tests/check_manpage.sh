#!/bin/sh
# check_manpage: every option that `watch53 COMMAND --help` lists appears in watch53(1).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${WATCH53:-./watch53}
man="$src/man/watch53.1"
fail=0
for cmd in scan check baseline config; do
	opts=$("$bin" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ -n "$opts" ] || { echo "check_manpage: '$cmd --help' lists no option"; exit 1; }
	for o in $opts; do
		# the man page escapes dashes as \-
		esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$esc" "$man" || { echo "check_manpage: $cmd $o is missing from watch53(1)"; fail=1; }
	done
done
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
