#!/bin/bash
# walkthrough.sh - run README.md's "Five minutes with the package" as a user would, so it
# stays true: every command line of its block, verbatim, as root, against the installed
# package (deb_cycle.sh calls this between install and purge).
#   walkthrough.sh path/to/watch53_VERSION_ARCH.deb   (from the source tree's top)
#
# What stands in for what the machine does not have:
#  - the network: a namespace made here, where 192.0.2.53 (the README's address) is a test
#    host on the namespace's own lo with unbound on port 53, and the "Slack" webhook is
#    receiver.py on 127.0.0.1 inside it. No packet leaves the namespace.
#  - `editor FILE`: writes what a user would type (our targets and a Slack sink; the
#    receiver's URL) into FILE, in place, so its owner and mode stay as `install` made them.
#  - systemd (CI has no PID 1 systemd): the service is `watch53 run` started as the unit
#    starts it (user watch53); `systemctl reload watch53` sends it SIGHUP as the unit's
#    ExecReload does; `journalctl -u watch53 -f` shows its log until a cycle after the
#    reload has delivered (bounded).
# Then: every line exits 0; Slack got the test message and the exposure of 192.0.2.53;
# `baseline show` listed it unacknowledged, and after `accept` acknowledged; the silence is
# listed; every file in /var/lib/watch53 is watch53's; the service ran throughout.
set -u
top=$(pwd)
deb=${1:?usage: walkthrough.sh WATCH53.deb}
export TESTS_DIR=$top/tests/integration W53_PYTHON=/usr/bin/python3 WATCH53=/usr/bin/watch53
. "$TESTS_DIR/lib.sh"

[ "$(id -u)" = 0 ] || w53_fail "walkthrough.sh needs root (the package's files)"
w53_require_cmd unbound setpriv
[ -x /usr/bin/watch53 ] || w53_fail "the package is not installed (/usr/bin/watch53)"

# the README's block: from its heading to the end of the first ```sh fence after it
BLOCK=$(awk '/^## Five minutes with the package/ { in_s = 1; next }
             in_s && /^```sh/ { code = 1; next }
             code && /^```/ { exit }
             code { print }' "$top/README.md")
[ -n "$BLOCK" ] || w53_fail "README.md has no \"Five minutes with the package\" sh block"
# the package it installs is the one this release builds
readme_deb=$(printf '%s\n' "$BLOCK" | sed -n 's|^apt-get install \./build/\([^ ]*\.deb\).*|\1|p')
[ "$readme_deb" = "$(basename "$deb")" ] ||
    w53_fail "README installs '$readme_deb', this release builds $(basename "$deb")"

# the walkthrough finds 192.0.2.53 new: a fresh install's state (deb_cycle.sh's) has never seen it
/usr/bin/watch53 baseline show 2>/dev/null | grep -q '^192[.]0[.]2[.]53 ' &&
    w53_fail "fixture: /var/lib/watch53 knows 192.0.2.53 already (run on a fresh install)"

ns_create walkthrough
nsx ip addr add 192.0.2.53/32 dev lo || w53_fail "cannot add 192.0.2.53 to the namespace's lo"
start_unbound 192.0.2.53
start_receiver slack --listen 127.0.0.1:18053
SHIMS=$W53_TMP/shims
mkdir -p "$SHIMS"
chmod 711 "$W53_TMP"

cat >"$W53_TMP/watch53.json" <<'EOF'
{
  "targets": ["127.0.0.1", "::1", "192.0.2.53"],
  "interval": "2s",
  "probe": {"tcp": true, "udp": true, "timeout": "500ms", "retries": 1},
  "state_dir": "/var/lib/watch53",
  "alerts": [{"type": "slack", "url_file": "/etc/watch53/slack.url"}],
  "log": {"level": "info"}
}
EOF
printf 'http://127.0.0.1:18053/services/T000/B000/XXXX\n' >"$W53_TMP/slack.url"

cat >"$SHIMS/editor" <<EOF
#!/bin/sh
# the user's edit: the prepared text for this file name, written in place
src="$W53_TMP/\$(basename "\$1")"
[ -f "\$src" ] || { echo "editor (test): nothing prepared for \$1" >&2; exit 1; }
cat "\$src" >"\$1"
EOF
cat >"$SHIMS/systemctl" <<EOF
#!/bin/sh
# the unit's ExecReload: kill -HUP \$MAINPID
[ "\$*" = "reload watch53" ] || { echo "systemctl (test): only 'reload watch53', not '\$*'" >&2; exit 1; }
date +%s.%N >"$W53_TMP/reloaded"
kill -HUP "\$(cat "$W53_TMP/service.pid")"
EOF
cat >"$SHIMS/journalctl" <<EOF
#!/bin/sh
# follow the service's log until the Slack receiver has the exposure (at most 30 s)
[ "\$*" = "-u watch53 -f" ] || { echo "journalctl (test): only '-u watch53 -f', not '\$*'" >&2; exit 1; }
i=0
while [ \$i -lt 300 ] && ! grep -q '192[.]0[.]2[.]53' "$(recv_log slack)" 2>/dev/null; do
    sleep 0.1; i=\$((i + 1))
done
cat "$W53_TMP/service.log"
EOF
chmod 755 "$SHIMS"/*

# the service as the unit starts it (the package's postinst did, under systemd)
w53_bg service "$W53_TMP/service.log" setpriv --reuid=watch53 --regid=watch53 --init-groups \
    /usr/bin/watch53 run -c /etc/watch53/watch53.json
SERVICE=$W53_LASTPID
echo "$SERVICE" >"$W53_TMP/service.pid"
for _ in $(seq 1 50); do grep -q 'cycle' "$W53_TMP/service.log" && break; sleep 0.1; done
w53_proc_alive "$SERVICE" || w53_fail "the service did not start: $(tail -n 5 "$W53_TMP/service.log")"

n=0
while IFS= read -r line; do
    case $line in '' | [[:space:]]*'#'* | '#'*) continue ;; esac
    n=$((n + 1))
    w53_info "\$ $line"
    rc=0
    (cd "$top" && nsx env PATH="$SHIMS:$PATH" bash -c "$line") >"$W53_TMP/line$n.out" 2>&1 || rc=$?
    sed 's/^/    /' "$W53_TMP/line$n.out" | tail -n 12
    assert_eq 0 "$rc" "README line $n exits 0: $line"
    case $line in
    'watch53 baseline show'*)
        # the first show (before accept) has it unacknowledged, the one after is in
        # line$n.out too: checked below
        printf '%s\n' "$n" >>"$W53_TMP/show-lines" ;;
    'watch53 baseline accept'*) printf '%s\n' "$n" >"$W53_TMP/accept-line" ;;
    esac
done <<<"$BLOCK"
assert_ge 10 "$n" "README walkthrough: command lines run"

w53_info "== what the walkthrough should have done"
log=$(recv_log slack)
assert_ge 2 "$(hooklog count "$log" --status 200)" "Slack accepted the messages"
assert_contains "$log" "Test alert" "Slack got the test message (alerts test)"
assert_contains "$log" "Port exposed: 192.0.2.53 tcp/53" "Slack got the exposure of 192.0.2.53"
show=$(cat "$W53_TMP/line$(head -n 1 "$W53_TMP/show-lines").out")
assert_match '192[.]0[.]2[.]53 +tcp .*\[unacknowledged\]' "$show" \
    "baseline show (while it runs): 192.0.2.53 found open, unacknowledged"
after=$(nsx /usr/bin/watch53 baseline show 2>&1)
assert_match '192[.]0[.]2[.]53 +tcp ' "$after" "baseline show after accept: 192.0.2.53"
if printf '%s\n' "$after" | grep '^192[.]0[.]2[.]53 ' | grep -q unacknowledged; then
    w53_soft_fail "baseline show after accept: 192.0.2.53 still unacknowledged"
fi
assert_match 'silenced: 192[.]0[.]2[.]53 until ' "$after" "baseline show lists the silence"
assert_eq watch53 "$(find /var/lib/watch53 -mindepth 1 -printf '%u\n' | sort -u | xargs)" \
    "every file in /var/lib/watch53 is watch53's (the CLI ran as root)"
w53_proc_alive "$SERVICE" || w53_soft_fail "the service died during the walkthrough"
grep -q 'Permission denied' "$W53_TMP/service.log" &&
    w53_soft_fail "the service log has 'Permission denied'"
[ -f "$W53_TMP/reloaded" ] || w53_soft_fail "systemctl reload was never run"
kill -TERM "$SERVICE"
w53_finish
