#!/bin/sh
# check_teams_schema: every Teams payload in the golden files (tests/data/golden/teams-*.txt)
# is an Adaptive Card valid against the official Adaptive Card JSON schema of the card's
# version, vendored in tests/data/adaptivecards/ (see its README: source, commit, license).
# Teams' own "msteams" extension is not in that schema (AdaptiveCard has additionalProperties
# false): tests/integration/chatcheck.py checks it apart and validates the card without it.
# Needs /usr/bin/python3 with python3-jsonschema (Debian); without it: skip, a failure in CI.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
py=${W53_PYTHON:-/usr/bin/python3}
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
	if [ "${CI:-}" = true ]; then
		echo "check_teams_schema: $py has no jsonschema (python3-jsonschema) (CI=true: a failure)"
		exit 1
	fi
	echo "SKIP: check_teams_schema: $py has no jsonschema (apt-get install python3-jsonschema)"
	exit 77
fi
set -- "$src"/tests/data/golden/teams-*.txt
[ -e "$1" ] || { echo "check_teams_schema: no golden Teams payload in $src/tests/data/golden"; exit 1; }
echo "# $# golden Teams payload(s)"
exec "$py" "$src/tests/integration/chatcheck.py" schema \
	"$src/tests/data/adaptivecards/adaptive-card-1.4.0.json" "$@"
