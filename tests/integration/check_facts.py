#!/usr/bin/python3
# Assert fields of watch53's result records (--format jsonl) for the integration tests.
#
#   check_facts.py EXPECTED RECORDS.jsonl
#
# EXPECTED has one assertion a line ('#' comments, blank lines ignored):
#   ADDRESS PATH VALUE
# PATH walks the record: dot-separated keys and [N] indexes (dns.axfr_zones[0].records);
# VALUE is JSON (true, null, "w53-knot", 7) and must equal the field exactly; the special
# VALUE "absent" means the key must not be there, and a PATH ending in "|join" compares a
# list joined with commas (findings|join "open-resolver,version-disclosed").
# Prints one line per assertion (ok / FAIL with both values); exit 0 when all hold, 1 if
# any fails, 2 on bad input.  Standard library only.

import json
import re
import sys

MISSING = object()


def walk(obj, path):
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            i = int(part[1:-1])
            if not isinstance(obj, list) or i >= len(obj):
                return MISSING
            obj = obj[i]
        else:
            if not isinstance(obj, dict) or part not in obj:
                return MISSING
            obj = obj[part]
    return obj


def main():
    if len(sys.argv) != 3:
        print("usage: check_facts.py EXPECTED RECORDS.jsonl", file=sys.stderr)
        return 2
    recs = {}
    with open(sys.argv[2], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                print("FAIL: %s:%d: not JSON: %s" % (sys.argv[2], n, e))
                return 1
            recs[r.get("address")] = r
    fails = 0
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                addr, path, want_text = line.split(None, 2)
            except ValueError:
                print("bad assertion line: %r" % line, file=sys.stderr)
                return 2
            rec = recs.get(addr)
            if rec is None:
                print("FAIL: %s: no record" % addr)
                fails += 1
                continue
            join = path.endswith("|join")
            got = walk(rec, path[:-5] if join else path)
            if join and isinstance(got, list):
                got = ",".join(str(x) for x in got)
            if want_text == "absent":
                ok = got is MISSING
            else:
                want = json.loads(want_text)
                ok = got is not MISSING and got == want and type(got) is type(want)
            shown = "(absent)" if got is MISSING else json.dumps(got)
            if ok:
                print("ok: %s %s = %s" % (addr, path, shown))
            else:
                print("FAIL: %s %s: expected %s, got %s" % (addr, path, want_text, shown))
                fails += 1
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
