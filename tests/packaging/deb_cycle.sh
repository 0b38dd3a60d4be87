#!/bin/sh
# deb_cycle: install the .deb on this machine, use it the way the README says (and run the
# README's walkthrough: walkthrough.sh), purge it,
# and check that nothing is left but what the purge policy keeps (README.md, "Uninstall":
# the watch53 user and group). Re-runnable: a watch53 left installed by an earlier run is
# purged first. Root only; it changes the machine (apt-get install/purge).
#   deb_cycle.sh path/to/watch53_VERSION_ARCH.deb
set -eu

deb=${1:?usage: deb_cycle.sh WATCH53.deb}
[ -f "$deb" ] || { echo "deb_cycle: $deb: no such file" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "deb_cycle: needs root (it installs the package)" >&2; exit 2; }
case $deb in /*) ;; *) deb=$PWD/$deb ;; esac
export DEBIAN_FRONTEND=noninteractive
here=$(cd "$(dirname "$0")" && pwd)
fail=0
bad() { echo "deb_cycle: FAIL: $1"; fail=1; }
ok() { echo "deb_cycle: ok: $1"; }
installed() { dpkg-query -W -f='${Status}' watch53 2>/dev/null | grep -q 'install ok installed'; }

if installed || dpkg-query -W watch53 >/dev/null 2>&1; then
	echo "deb_cycle: purging the watch53 an earlier run left"
	apt-get purge -y -q watch53
fi

echo "=== install $deb"
apt-get install -y -q --no-install-recommends "$deb"
installed || { echo "deb_cycle: FAIL: watch53 is not installed"; exit 1; }
version=$(dpkg-query -W -f='${Version}' watch53)

echo "=== use"
out=$(/usr/bin/watch53 --version)
[ "$out" = "watch53 $version" ] && ok "$out" || bad "--version says '$out', the package $version"
/usr/bin/watch53 config check -c /etc/watch53/watch53.json >/dev/null &&
	ok "config check -c /etc/watch53/watch53.json" || bad "the shipped config does not pass 'config check'"
rc=0
/usr/bin/watch53 scan 127.0.0.1 || rc=$?
# 1 only says that something on this machine listens on 127.0.0.1:53
[ $rc = 0 ] || [ $rc = 1 ] && ok "scan 127.0.0.1 (exit $rc)" || bad "scan 127.0.0.1 exited $rc"

# the system user and its state directory, as the unit and the cron example expect them
pw=$(getent passwd watch53) || bad "no watch53 user"
case $pw in *:/var/lib/watch53:/usr/sbin/nologin) ok "user: $pw" ;; *) bad "user: '$pw'" ;; esac
st=$(stat -c '%U:%G %a' /var/lib/watch53 2>/dev/null) || st=missing
[ "$st" = "watch53:watch53 750" ] && ok "/var/lib/watch53 $st" || bad "/var/lib/watch53 is $st"
dpkg-query -W -f='${Conffiles}\n' watch53 | grep -q '^ /etc/watch53/watch53.json ' &&
	ok "/etc/watch53/watch53.json is a conffile" || bad "/etc/watch53/watch53.json is no conffile"
dpkg-query -W -f='${Conffiles}\n' watch53 | grep -q '^ /etc/cron.d/watch53 ' ||
	bad "/etc/cron.d/watch53 is no conffile"
# the cron example must stay commented out: the daemon runs by default
grep -v '^[[:space:]]*\(#\|$\)' /etc/cron.d/watch53 && bad "/etc/cron.d/watch53 has an active line" ||
	ok "/etc/cron.d/watch53 is all comments"

# cron's way: one cycle as the watch53 user (the first records the baseline: exit 0)
rc=0
setpriv --reuid=watch53 --regid=watch53 --init-groups \
	/usr/bin/watch53 check -c /etc/watch53/watch53.json || rc=$?
[ $rc = 0 ] && ok "check as watch53" || bad "check as watch53 exited $rc"
[ -f /var/lib/watch53/state.db ] && [ "$(stat -c %U /var/lib/watch53/state.db)" = watch53 ] &&
	ok "state.db written by watch53" || bad "no state.db owned by watch53"
# the daemon's way, without systemd: started as watch53, stopped by SIGTERM (exit 0)
rc=0
timeout --preserve-status -k 10 -s TERM 3 setpriv --reuid=watch53 --regid=watch53 --init-groups \
	/usr/bin/watch53 run -c /etc/watch53/watch53.json || rc=$?
[ $rc = 0 ] && ok "run as watch53, stopped by SIGTERM" || bad "run as watch53 exited $rc"

unit=/lib/systemd/system/watch53.service
if [ -f "$unit" ]; then
	sh "$here/check_unit.sh" "$unit" || bad "the installed unit fails check_unit"
	if command -v systemd-analyze >/dev/null 2>&1; then
		systemd-analyze verify "$unit" && ok "systemd-analyze verify $unit" ||
			bad "systemd-analyze verify $unit"
	fi
else
	bad "$unit is not installed"
fi

echo "=== the README's five minutes with the package, line by line"
if (cd "$here/../.." && bash tests/packaging/walkthrough.sh "$deb"); then
	ok "README walkthrough"
else
	bad "README walkthrough (above)"
fi

echo "=== purge"
files=$(mktemp)
trap 'rm -f "$files"' EXIT
dpkg -L watch53 > "$files"
apt-get purge -y -q watch53
dpkg-query -W -f='${Status}' watch53 2>/dev/null | grep -q 'installed' && bad "still installed after purge"

# Every path the package shipped is gone, except directories other packages share (or
# that hold files that are not ours).
while IFS= read -r p; do
	[ -e "$p" ] || [ -L "$p" ] || continue
	if [ -d "$p" ] && [ ! -L "$p" ] && [ -n "$(ls -A "$p")" ]; then
		case $p in */watch53 | */watch53/*) bad "left behind: $p/ ($(ls -A "$p" | head -n 3 | tr '\n' ' '))" ;; esac
		continue
	fi
	[ -d "$p" ] && dpkg -S "$p" >/dev/null 2>&1 && continue
	bad "left behind: $p"
done < "$files"
for p in /etc/watch53 /var/lib/watch53 /etc/cron.d/watch53 /usr/share/doc/watch53 \
	/etc/systemd/system/multi-user.target.wants/watch53.service \
	/var/lib/systemd/deb-systemd-helper-enabled/watch53.service.dsh-also \
	/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/watch53.service; do
	[ -e "$p" ] || [ -L "$p" ] && bad "left behind: $p"
done
# the policy: the user and group stay, so that a later install finds the same uid
getent passwd watch53 >/dev/null && ok "user watch53 kept (policy)" || bad "user watch53 was removed"

if [ $fail = 0 ]; then
	echo "deb_cycle: install, use and purge of watch53 $version: all good"
else
	echo "deb_cycle: FAILED"
fi
exit $fail
