#!/usr/bin/python3
# Compare watch53 `scan --format jsonl` output with a table of expected results, exactly.
#
#   check_records.py [--port N] EXPECTED JSONL
#
# EXPECTED: one address a line ('#' starts a comment):
#   ADDRESS TCP_STATE TCP_REASON UDP_STATE UDP_REASON [FIELD OP VALUE]...
#   127.53.0.3  open syn-ack  open dns-reply  valid=true rcode=REFUSED aa=false
# A state/reason column may be '*' (anything) or '-' (the "tcp"/"udp" key must be absent; put
# '-' in both columns of that protocol).  FIELD is a dotted path from the record root
# (udp.rtt_ms); a bare name means dns.NAME.  OP is '=' (equal; the value is read as JSON when it
# parses as JSON - true, 3, null - and as a string otherwise; '-' means absent or null, '*'
# present and not null) or '~=' (the value, as a string, matches the Python regular expression,
# case-insensitive; e.g. error~=\bid\b).
#
# Checks: every line of JSONL is a JSON object; one record per address (address compared in
# canonical form); every expected address present, no other; states, reasons and fields equal;
# family agrees with the address, port is --port; rtt_ms is a number >= 0 where the reason says
# a reply came back (syn-ack, reset, dns-reply, udp-response) and null/absent for no-response.
# Prints one line per address, then a summary; exit 0 if all matched, 1 otherwise, 2 on bad
# input files.

import argparse
import ipaddress
import json
import re
import sys

REPLY_REASONS = {"syn-ack", "reset", "dns-reply", "udp-response"}


def canon(addr):
    try:
        return str(ipaddress.ip_address(addr))
    except ValueError:
        return addr


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def load_expected(path):
    rows = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            tok = line.split()
            if len(tok) < 5:
                raise SystemExit("%s:%d: need ADDRESS TCP_STATE TCP_REASON UDP_STATE UDP_REASON"
                                 % (path, n))
            addr = canon(tok[0])
            if addr in rows:
                raise SystemExit("%s:%d: %s listed twice" % (path, n, addr))
            fields = []
            for t in tok[5:]:
                if "~=" in t:
                    k, v = t.split("~=", 1)
                    op = "~="
                elif "=" in t:
                    k, v = t.split("=", 1)
                    op = "="
                else:
                    raise SystemExit("%s:%d: bad field %r (want NAME=VALUE or NAME~=TEXT)"
                                     % (path, n, t))
                if "." not in k:
                    k = "dns." + k
                fields.append((k, op, v))
            rows[addr] = {"tcp": (tok[1], tok[2]), "udp": (tok[3], tok[4]),
                          "fields": fields, "line": n}
    return rows


def load_records(path):
    recs = {}
    errors = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as e:
                errors.append("output line %d is not JSON (%s): %s" % (n, e, line.strip()[:200]))
                continue
            if not isinstance(r, dict) or not isinstance(r.get("address"), str):
                errors.append("output line %d is not a record with an address: %s"
                              % (n, line.strip()[:200]))
                continue
            a = canon(r["address"])
            if a in recs:
                errors.append("output line %d: address %s appears twice" % (n, a))
                continue
            recs[a] = r
    return recs, errors


MISSING = object()


def get_path(rec, path):
    cur = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return MISSING
        cur = cur[part]
    return cur


def show(v):
    return "<absent>" if v is MISSING else json.dumps(v)


def check_proto(rec, proto, exp, port_problems):
    want_state, want_reason = exp
    got = rec.get(proto, MISSING)
    if want_state == "-" or want_reason == "-":
        if got is not MISSING and got is not None:
            port_problems.append("%s: expected no %r key, got %s" % (proto, proto, show(got)))
        return
    if not isinstance(got, dict):
        port_problems.append("%s: expected %s/%s, got %s" % (proto, want_state, want_reason,
                                                             show(got)))
        return
    gs, gr = got.get("state", MISSING), got.get("reason", MISSING)
    if (want_state != "*" and gs != want_state) or (want_reason != "*" and gr != want_reason):
        port_problems.append("%s: expected %s/%s, got %s/%s"
                             % (proto, want_state, want_reason,
                                gs if gs is not MISSING else "<absent>",
                                gr if gr is not MISSING else "<absent>"))
    rtt = got.get("rtt_ms", MISSING)
    if gr in REPLY_REASONS:
        if isinstance(rtt, bool) or not isinstance(rtt, (int, float)) or rtt < 0:
            port_problems.append("%s: reason %s but rtt_ms is %s (want a number >= 0)"
                                 % (proto, gr, show(rtt)))
    elif gr == "no-response":
        if rtt is not MISSING and rtt is not None:
            port_problems.append("%s: nothing came back but rtt_ms is %s (want null)"
                                 % (proto, show(rtt)))


def same(got, want):
    """JSON equality: true is not 1, 1 equals 1.0."""
    if isinstance(got, bool) or isinstance(want, bool):
        return type(got) is type(want) and got == want
    if isinstance(got, (int, float)) and isinstance(want, (int, float)):
        return got == want
    return type(got) is type(want) and got == want


def check_field(rec, path, op, want):
    got = get_path(rec, path)
    if op == "~=":
        if got is MISSING or got is None or not re.search(want, str(got), re.IGNORECASE):
            return "%s: expected a match for /%s/i, got %s" % (path, want, show(got))
        return None
    if want == "-":
        if got is not MISSING and got is not None:
            return "%s: expected absent/null, got %s" % (path, show(got))
        return None
    if want == "*":
        if got is MISSING or got is None:
            return "%s: expected present, got %s" % (path, show(got))
        return None
    wv = parse_value(want)
    if got is MISSING or not same(got, wv):
        return "%s: expected %s, got %s" % (path, json.dumps(wv), show(got))
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=53)
    p.add_argument("expected")
    p.add_argument("jsonl")
    a = p.parse_args()
    try:
        exp = load_expected(a.expected)
        recs, errors = load_records(a.jsonl)
    except OSError as e:
        print("check_records: %s" % e, file=sys.stderr)
        return 2
    bad = len(errors)
    for e in errors:
        print("ERROR   " + e)
    for addr in sorted(exp, key=lambda x: exp[x]["line"]):
        e = exp[addr]
        r = recs.get(addr)
        if r is None:
            print("MISSING %-14s no record (expected tcp %s/%s udp %s/%s)"
                  % (addr, e["tcp"][0], e["tcp"][1], e["udp"][0], e["udp"][1]))
            bad += 1
            continue
        problems = []
        fam = 6 if ":" in addr else 4
        if r.get("family") != fam:
            problems.append("family: expected %d, got %s" % (fam, show(r.get("family", MISSING))))
        if r.get("port") != a.port:
            problems.append("port: expected %d, got %s" % (a.port, show(r.get("port", MISSING))))
        if not isinstance(r.get("target"), str) or not r.get("target"):
            problems.append("target: expected a non-empty string, got %s"
                            % show(r.get("target", MISSING)))
        check_proto(r, "tcp", e["tcp"], problems)
        check_proto(r, "udp", e["udp"], problems)
        for path, op, want in e["fields"]:
            msg = check_field(r, path, op, want)
            if msg:
                problems.append(msg)
        if problems:
            bad += 1
            print("DIFF    %-14s %s" % (addr, "; ".join(problems)))
            print("        got: %s" % json.dumps(r, sort_keys=True))
        else:
            print("ok      %-14s tcp %s/%s udp %s/%s"
                  % (addr, e["tcp"][0], e["tcp"][1], e["udp"][0], e["udp"][1]))
    for addr in sorted(set(recs) - set(exp)):
        bad += 1
        print("EXTRA   %-14s unexpected record: %s" % (addr, json.dumps(recs[addr],
                                                                       sort_keys=True)))
    print("check_records: %d expected, %d records, %d problem(s)" % (len(exp), len(recs), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
