#!/bin/sh
# check_versions: the version the binary reports (AC_INIT) is the one in every place that
# repeats it by hand: debian/changelog, the RPM spec and the man pages' headers.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
bin=${WATCH53:-./watch53}
fail=0
bad() { echo "check_versions: $1"; fail=1; }

v=$("$bin" --version | sed -n 's/^watch53 \([^ ]*\)$/\1/p')
[ -n "$v" ] || { echo "check_versions: '$bin --version' printed no version"; exit 99; }

deb=$(sed -n '1s/^watch53 (\([^)]*\)).*/\1/p' "$src/packaging/debian/changelog")
[ "$deb" = "$v" ] || bad "packaging/debian/changelog says '$deb', the binary '$v'"
rpm=$(sed -n 's/^Version: *//p' "$src/packaging/rpm/watch53.spec")
[ "$rpm" = "$v" ] || bad "packaging/rpm/watch53.spec says '$rpm', the binary '$v'"
for m in "$src/man/watch53.1" "$src/man/watch53.json.5"; do
	grep -q "^\.TH .* \"watch53 $v\"" "$m" || bad "$(basename "$m"): .TH does not say \"watch53 $v\""
done
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
