#!/bin/bash
# Build the libFuzzer target for the DNS reply parser with clang and run it for
# FUZZ_SECONDS (default 60). Fails on any crash or sanitizer report.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v clang >/dev/null || { echo "fuzz: clang is missing: apt-get install clang" >&2; exit 1; }
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$src" "$src/probes/dns.c" "$src/tests/fuzz/fuzz_dns.c" -o "$work/fuzz_dns"
mkdir -p "$work/corpus"
cp "$src"/tests/fuzz/corpus/dns/* "$work/corpus/"
cd "$work"
# the working corpus grows in $work, the seed corpus in the tree stays as committed
./fuzz_dns -max_total_time="$secs" -print_final_stats=1 -error_exitcode=1 \
	-timeout=10 -rss_limit_mb=1024 corpus 2>&1 | tail -n 25
echo "fuzz: dns reply parser ran ${secs}s without a crash"
