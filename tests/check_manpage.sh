#!/bin/sh
# check_manpage: every command that `watch53 --help` lists, and every option of its
# `--help`, appears in watch53(1); every config key in watch53.json(5).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
bin=${WATCH53:-./watch53}
man="$src/man/watch53.1"
fail=0
# the commands are the ones `watch53 --help` lists, so a new command is checked the day
# it lands; each needs its synopsis line and its options in the page
cmds=$("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
[ -n "$cmds" ] || { echo "check_manpage: 'watch53 --help' lists no command"; exit 1; }
for cmd in $cmds; do
	grep -q "^\.B watch53 $cmd\( \|\$\)" "$man" ||
		{ echo "check_manpage: command '$cmd' has no synopsis line ('.B watch53 $cmd') in watch53(1)"; fail=1; }
	opts=$("$bin" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
	[ -n "$opts" ] || { echo "check_manpage: '$cmd --help' lists no option"; exit 1; }
	for o in $opts; do
		# the man page escapes dashes as \-
		esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
		grep -q -- "$esc" "$man" || { echo "check_manpage: $cmd $o is missing from watch53(1)"; fail=1; }
	done
done
# every key `config check` prints for a full config is documented in watch53.json(5)
man5="$src/man/watch53.json.5"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/w.json" <<JSON
{"targets": ["127.0.0.1"], "state_dir": "$tmp/state", "metrics_file": "$tmp/m.prom",
 "alerts": [{"type": "webhook", "url": "http://127.0.0.1:9/x"},
            {"type": "telegram", "token": "123:abc", "chat_id": "42"},
            {"type": "ntfy", "url": "http://127.0.0.1:9/t", "priority": "high"}]}
JSON
keys=$("$bin" config check -c "$tmp/w.json" | grep -o '"[a-z_]*":' | tr -d '":' | sort -u)
[ -n "$keys" ] || { echo "check_manpage: 'config check' printed no key"; exit 1; }
for k in $keys; do
	esc=$(printf '%s' "$k" | sed 's/-/\\-/g')
	grep -q -- "$esc" "$man5" || { echo "check_manpage: config key '$k' is missing from watch53.json(5)"; fail=1; }
done
# one cron line everywhere: what `check --help` shows is the line of the README, of
# watch53(1) (dashes escaped) and, commented out, of the packaged /etc/cron.d/watch53
cron=$("$bin" check --help | grep '^  \*/' | sed 's/^  //')
[ -n "$cron" ] || { echo "check_manpage: 'check --help' shows no cron line"; fail=1; }
grep -qxF -- "$cron" "$src/README.md" ||
	{ echo "check_manpage: the README's cron line is not '$cron'"; fail=1; }
grep -qxF -- ".B $(printf '%s' "$cron" | sed 's/-/\\-/g')" "$man" ||
	{ echo "check_manpage: watch53(1)'s cron line is not '$cron'"; fail=1; }
sed -n 's/^#\(\*\/\)/\1/p' "$src/packaging/cron.d/watch53" | tr -s ' ' | grep -qxF -- "$cron" ||
	{ echo "check_manpage: packaging/cron.d/watch53's line is not '$cron'"; fail=1; }
# the README's block of one sink of each type is a valid config, secrets in files
mkdir -p "$tmp/etc"
for f in slack.url mattermost.url discord.url teams.url googlechat.url; do
	printf 'https://hooks.example.org/%s\n' "$f" >"$tmp/etc/$f"
done
printf '123456:ABC-def_1\n' >"$tmp/etc/telegram.token"
printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64)" >"$tmp/etc/webhook.key"
chmod 600 "$tmp/etc/"*
sinks=$(sed -n '/^<!-- checked: sinks -->$/,/^```$/p' "$src/README.md" | sed '1,2d;$d' |
	sed "s|/etc/watch53/|$tmp/etc/|g")
[ -n "$sinks" ] || { echo "check_manpage: the README has no '<!-- checked: sinks -->' block"; fail=1; }
printf '{"targets": ["127.0.0.1"], "state_dir": "%s/state2",\n%s}\n' "$tmp" "$sinks" >"$tmp/sinks.json"
n=$("$bin" config check -c "$tmp/sinks.json" 2>"$tmp/sinks.err" | grep -c '"type":')
[ "$n" = 9 ] || { echo "check_manpage: the README's sink block: $n sinks ($(cat "$tmp/sinks.err"))"; fail=1; }
[ $fail = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $fail
