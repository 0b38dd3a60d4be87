#!/bin/sh
# build.sh — install what is missing (Debian 12, as root), then build watch53 in build/.
#   ./build.sh          build dependencies, build/watch53
#   ./build.sh test     also the test dependencies, then the whole test suite (make check)
# CI=true adds -Werror.
set -eu
cd "$(dirname "$0")"
mode=${1:-build}

build_pkgs="build-essential autoconf automake pkg-config libcurl4-openssl-dev libjson-c-dev
 libpcap-dev libssl-dev libcmocka-dev libsqlite3-dev"
# servers and tools the integration tests drive inside their own network namespaces
test_pkgs="iproute2 nftables unbound knot python3 python3-dnslib python3-jsonschema clang libclang-rt-14-dev openssl curl
 util-linux procps tcpdump sqlite3 acl prometheus-alertmanager"
# systemd-analyze rates the unit's sandbox (tests/packaging/check_unit.sh); containers lack it
test_pkgs="$test_pkgs systemd"
# promtool checks the metrics files and the example alerting rules (tests/check_rules.sh)
test_pkgs="$test_pkgs prometheus"

case "$mode" in
build) want=$build_pkgs ;;
test) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: ./build.sh [build|test]" >&2; exit 2 ;;
esac

missing=
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "build.sh: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
		exit 1
	fi
	echo "build.sh: installing$missing"
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
	# Debian starts freshly installed servers (unbound on port 53, Alertmanager on 9093,
	# prometheus on 9090: only its promtool is wanted);
	# the tests bring their own, inside their namespaces
	for s in unbound prometheus-alertmanager prometheus; do
		systemctl disable --now "$s" >/dev/null 2>&1 ||
			{ service "$s" stop; update-rc.d "$s" disable; } >/dev/null 2>&1 || true
	done
fi

configure_flags=
[ "${CI:-}" = true ] && configure_flags=--enable-werror
[ -x configure ] && [ configure -nt configure.ac ] && [ configure -nt Makefile.am ] || autoreconf -fi
mkdir -p build
cd build
[ -f Makefile ] || ../configure $configure_flags
make -j"$(nproc)"
if [ "$mode" = test ]; then
	make -j"$(nproc)" check || { cat tests/*.log tests/integration/*.log 2>/dev/null | tail -n 200; exit 1; }
fi
