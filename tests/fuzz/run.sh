#!/bin/bash
# Build the libFuzzer targets (DNS reply parser, config loader, state loader, packet decoder,
# passive responder table, the packed rows of state.db, the outbox's event and .meta
# loaders) with clang
# and run each for FUZZ_SECONDS (default 60). Fails on any crash or sanitizer report.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${FUZZ_SECONDS:-60}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v clang >/dev/null || { echo "fuzz: clang is missing: apt-get install clang" >&2; exit 1; }
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$src")
jsonc=$(pkg-config --cflags --libs json-c libcrypto)
common=("$src"/common/util.c "$src"/common/netaddr.c "$src"/common/fileio.c "$src"/common/log.c
	"$src"/common/jsondup.c)

build() {
	local name=$1
	shift
	# shellcheck disable=SC2086
	clang "${flags[@]}" "$@" "$src/tests/fuzz/$name.c" $jsonc -lm -o "$work/$name"
}

build fuzz_dns "$src"/probes/dns.c
build fuzz_config "$src"/agent/jsonw.c "$src"/agent/config.c "$src"/agent/shard.c "$src"/agent/targets.c \
	"$src"/probes/dns.c "$src"/probes/dnscheck.c \
	"$src"/alerts/event.c "$src"/alerts/mention.c "$src"/alerts/sink.c "${common[@]}"
build fuzz_state "$src"/agent/jsonw.c "$src"/agent/state.c "$src"/alerts/event.c "$src"/probes/probe.c \
	"$src"/probes/dns.c "${common[@]}"
build fuzz_passive "$src"/probes/packet.c "$src"/probes/passive.c "$src"/probes/dns.c \
	"$src"/common/netaddr.c
build fuzz_state_row "$src"/agent/state_row.c "$src"/probes/probe.c "$src"/common/netaddr.c
# webhook.c (linked for the outbox's delivery code, never called here) names the version
printf '#define PACKAGE_VERSION "fuzz"\n' >"$work/autoconfig.h"
build fuzz_outbox -I"$work" "$src"/alerts/outbox.c "$src"/alerts/webhook.c "$src"/alerts/event.c \
	"$src"/alerts/sink.c "$src"/alerts/format.c "$src"/alerts/alertmanager.c \
	"$src"/alerts/hint.c "$src"/alerts/mention.c "$src"/alerts/render.c "$src"/alerts/sign.c "${common[@]}" $(pkg-config --libs libcurl)

for t in dns:fuzz_dns config:fuzz_config state:fuzz_state passive:fuzz_passive \
	state_row:fuzz_state_row outbox:fuzz_outbox; do
	corpus=${t%%:*}
	bin=${t##*:}
	mkdir -p "$work/corpus-$corpus"
	cp "$src/tests/fuzz/corpus/$corpus"/* "$work/corpus-$corpus/"
	# the working corpus grows in $work; the seeds in the tree stay as committed
	(cd "$work" && "./$bin" -max_total_time="$secs" -print_final_stats=1 -error_exitcode=1 \
		-timeout=10 -rss_limit_mb=2048 "corpus-$corpus" 2>&1 | tail -n 6)
	echo "fuzz: $bin ran ${secs}s without a crash"
done
