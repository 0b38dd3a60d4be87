#!/bin/sh
# check_dist: the dist tarball holds every source file of the tree, so that a colleague's
# new test helper or fixture cannot silently miss from it (EXTRA_DIST is a hand-kept list).
# Build output, editor and Python droppings are not source.
#   check_dist.sh SRCDIR TARBALL
set -eu
src=${1:?usage: check_dist.sh SRCDIR TARBALL}
tarball=${2:?usage: check_dist.sh SRCDIR TARBALL}
list=$(mktemp)
trap 'rm -f "$list"' EXIT
# members without the top directory (watch53-VERSION/)
tar -tzf "$tarball" | sed 's|^[^/]*/||' | sort -u > "$list"

cd "$src"
missing=$(find configure.ac Makefile.am README.md LICENSE build.sh \
		agent alerts common probes man packaging tests \
		\( -name __pycache__ -o -name .deps -o -name .libs \) -prune -o -type f \
		! -name '*.o' ! -name '*.a' ! -name '*.pyc' ! -name '*~' ! -name '.*.sw?' \
		! -name '*.log' ! -name '*.trs' ! -name .dirstamp ! -name '*.tmp' -print | sort |
	while IFS= read -r f; do
		# an in-tree build leaves executables (test programs) and the built unit beside
		# the source
		[ "$f" = packaging/systemd/watch53.service ] && continue
		head -c 4 "$f" | grep -q 'ELF' && continue
		grep -qxF -- "$f" "$list" || echo "$f"
	done)
if [ -n "$missing" ]; then
	echo "check_dist: not in $(basename "$tarball") (add them to EXTRA_DIST):"
	printf '%s\n' "$missing" | sed 's/^/  /'
	exit 1
fi
echo "check_dist: every source file is in $(basename "$tarball")"
