#!/usr/bin/python3
# Read the JSON-lines log of receiver.py so alerts_*.int can assert on plain lines.
#
#   hooklog.py count LOG [--path P] [--status S] [--since N] [--tls-errors]
#        how many requests (or TLS handshake failures) match; --since N: only records after
#        the first N lines of the log
#   hooklog.py last LOG [--path P]
#        "N TIME STATUS ACTION EVENT_ID" of the last request (nothing if none)
#   hooklog.py show LOG [--path P]
#        one line per request: "n=1 t=+0.000 POST /w53 status=500 action=500 sig=ok
#        webhook-id=... event=... type=..."
#   hooklog.py ids LOG [--path P] [--status S]
#        the distinct event ids, one a line, in order of first appearance
#   hooklog.py attempts LIST.json ID
#        the "attempts" of event ID in `watch53 alerts list --format json` output ("none" if
#        the event is not listed)
#   hooklog.py meta FILE.meta
#        "ATTEMPTS NEXT_TRY LAST_STATUS" from an outbox .meta file (next_try in seconds since
#        the epoch, fractional; "none" when the file does not exist)
#   hooklog.py delivered LOG EVENTS... [--path P] [--signed] [--ordered] [--verbose]
#        EVENTS are files of `check --format jsonl` output (one event a line) or outbox JSON
#        files.  Proves: every 200 carried the generic webhook body (every CONTRACT.md key,
#        equal to the printed event, Content-Type application/json); every event id got a 200, no other id got one; each id was answered
#        200 once, or more often only with the same webhook-id (a redelivery of one message);
#        every attempt of one id carried one webhook-id; webhook-ids of the 200s are unique
#        per event (count == number of events); with --signed, every POST's signature
#        verified; with --ordered, the 200s came in event-time order and no event was first
#        tried before every earlier event had been tried.
#
# Prints a reason for every failure (expected vs actual); exit 0 ok, 1 mismatch, 2 bad usage.
# Standard library only.

import argparse
import json
import os
import sys

EVENT_KEYS = ("id", "type", "time", "agent", "vantage", "target", "address", "protocol", "port",
              "previous", "current", "dns", "severity")


def records(path, since=0):
    out = []
    if not os.path.exists(path):      # a receiver that never started logged nothing
        return out
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < since or not line.strip():
                continue
            out.append(json.loads(line))
    return out


def requests(recs, path=None):
    return [r for r in recs if "tls_error" not in r and (path is None or r["path"] == path)]


def read_events(paths):
    evs = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            text = f.read()
        text = text.strip()
        if not text:
            continue
        if text.startswith("{") and "\n" not in text:
            lines = [text]
        else:
            lines = [l for l in text.splitlines() if l.strip()]
        for l in lines:
            ev = json.loads(l)
            if isinstance(ev, dict) and "id" in ev:
                evs.append(ev)
    return evs


def cmd_delivered(a):
    recs = requests(records(a.log), a.path)
    evs = read_events(a.events)
    want = {ev["id"]: ev for ev in evs}
    fails = []
    if len(want) != len(evs):
        fails.append("the event files name %d events but only %d distinct ids"
                     % (len(evs), len(want)))
    posts = [r for r in recs if r["method"] == "POST"]
    if a.signed:
        bad = [r for r in posts if r["sig_ok"] is not True]
        for r in bad:
            fails.append("request n=%d (event %s): signature not verified: %s"
                         % (r["n"], r["event_id"], r["sig_error"]))
    ok = [r for r in posts if r["status"] == 200 and not r["action"].startswith("hang")]
    # the generic webhook body (CONTRACT.md): every key, the event as printed, JSON
    for r in ok:
        ev = want.get(r["event_id"])
        body = r["json"]
        if not isinstance(body, dict):
            fails.append("request n=%d: body is not a JSON object: %r" % (r["n"], r["body"][:200]))
            continue
        missing_keys = [k for k in EVENT_KEYS if k not in body]
        if missing_keys:
            fails.append("request n=%d: body lacks the contract keys %s" % (r["n"], missing_keys))
        if ev is not None:
            diff = [k for k in EVENT_KEYS if k in body and k in ev and body[k] != ev[k]]
            if diff:
                fails.append("request n=%d: body differs from the printed event in %s: %s"
                             % (r["n"], diff, ["%s=%r/%r" % (k, body[k], ev[k]) for k in diff]))
        ctype = r["headers"].get("content-type", "")
        if not ctype.startswith("application/json"):
            fails.append("request n=%d: Content-Type %r, expected application/json"
                         % (r["n"], ctype))
    got_ids = {}
    for r in ok:
        got_ids.setdefault(r["event_id"], []).append(r)
    missing = [i for i in want if i not in got_ids]
    extra = [i for i in got_ids if i not in want]
    if missing:
        fails.append("expected a 200 for every one of the %d events; %d never got one: %s"
                     % (len(want), len(missing), " ".join(sorted(missing)[:10])))
    if extra:
        fails.append("200 for ids that are not among the expected events: %s"
                     % " ".join(str(x) for x in sorted(extra, key=str)[:10]))
    dup = 0
    for i, rs in got_ids.items():
        wids = {r["webhook_id"] for r in rs}
        if len(rs) > 1:
            dup += len(rs) - 1
            if len(wids) != 1:
                fails.append("event %s answered 200 %d times with different webhook-ids %s "
                             "(expected one message, redelivered with its id)"
                             % (i, len(rs), sorted(map(str, wids))))
    attempts = {}
    for r in posts:
        attempts.setdefault(r["event_id"], set()).add(r["webhook_id"])
    for i, wids in attempts.items():
        if len(wids) != 1:
            fails.append("event %s: its attempts carried %d different webhook-ids %s (a retry "
                         "must keep the webhook-id)" % (i, len(wids), sorted(map(str, wids))))
    uniq_wid = {r["webhook_id"] for r in ok if r["event_id"] in want}
    if len(uniq_wid) != len(want):
        fails.append("distinct webhook-ids among the 200s: expected %d (one per event), got %d"
                     % (len(want), len(uniq_wid)))
    if a.ordered:
        seen, prev = set(), None
        for r in ok:
            if r["event_id"] in seen or r["event_id"] not in want:
                continue
            seen.add(r["event_id"])
            t = want[r["event_id"]]["time"]
            if prev is not None and t < prev[1]:
                fails.append("order: event %s (time %s) was delivered after %s (time %s)"
                             % (r["event_id"], t, prev[0], prev[1]))
            prev = (r["event_id"], t)
        # no event is tried before every earlier one (by time) has been tried: head of line
        first = {}
        for r in posts:
            first.setdefault(r["event_id"], r["n"])
        for i, ev in want.items():
            for j, ev2 in want.items():
                if ev2["time"] < ev["time"] and i in first and \
                        first.get(j, 1 << 60) > first[i]:
                    fails.append("order: event %s (time %s) was first tried (n=%d) before the "
                                 "earlier event %s (time %s, first tried %s)"
                                 % (i, ev["time"], first[i], j, ev2["time"], first.get(j)))
    for f in fails:
        print("FAIL: " + f)
    print("%d events; %d POSTs (%d answered 200, %d of them repeats); %d distinct webhook-ids "
          "among the 200s; signatures %s" % (len(want), len(posts), len(ok), dup, len(uniq_wid),
                                             "all verified" if a.signed and not any(
                                                 r["sig_ok"] is not True for r in posts)
                                             else "not required" if not a.signed else "BAD"))
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count")
    c.add_argument("log")
    c.add_argument("--path")
    c.add_argument("--status", type=int)
    c.add_argument("--since", type=int, default=0)
    c.add_argument("--tls-errors", action="store_true")
    la = sub.add_parser("last")
    la.add_argument("log")
    la.add_argument("--path")
    s = sub.add_parser("show")
    s.add_argument("log")
    s.add_argument("--path")
    i = sub.add_parser("ids")
    i.add_argument("log")
    i.add_argument("--path")
    i.add_argument("--status", type=int)
    at = sub.add_parser("attempts")
    at.add_argument("file")
    at.add_argument("id")
    m = sub.add_parser("meta")
    m.add_argument("file")
    d = sub.add_parser("delivered")
    d.add_argument("log")
    d.add_argument("events", nargs="+")
    d.add_argument("--path")
    d.add_argument("--signed", action="store_true")
    d.add_argument("--ordered", action="store_true")
    a = p.parse_args()

    try:
        if a.cmd == "count":
            recs = records(a.log, a.since)
            if a.tls_errors:
                print(sum(1 for r in recs if "tls_error" in r))
            else:
                print(sum(1 for r in requests(recs, a.path)
                          if a.status is None or r["status"] == a.status))
        elif a.cmd == "last":
            rs = requests(records(a.log), a.path)
            if rs:
                r = rs[-1]
                print("%d %.3f %d %s %s" % (r["n"], r["time"], r["status"], r["action"],
                                            r["event_id"]))
        elif a.cmd == "show":
            recs = records(a.log)
            t0 = recs[0]["time"] if recs else 0
            for r in recs:
                if "tls_error" in r:
                    print("n=%d t=+%.3f TLS handshake failed: %s" % (r["n"], r["time"] - t0,
                                                                     r["tls_error"]))
                    continue
                if a.path and r["path"] != a.path:
                    continue
                j = r["json"] if isinstance(r["json"], dict) else {}
                print("n=%d t=+%.3f %s %s status=%d action=%s sig=%s webhook-id=%s event=%s "
                      "type=%s time=%s" % (
                          r["n"], r["time"] - t0, r["method"], r["path"], r["status"],
                          r["action"], {True: "ok", False: "BAD", None: "-"}[r["sig_ok"]],
                          r["webhook_id"], r["event_id"], j.get("type"), j.get("time")))
        elif a.cmd == "ids":
            seen = []
            for r in requests(records(a.log), a.path):
                if (a.status is None or r["status"] == a.status) and r["event_id"] not in seen:
                    seen.append(r["event_id"])
            for x in seen:
                print(x)
        elif a.cmd == "attempts":
            with open(a.file, encoding="utf-8") as f:
                doc = json.load(f)
            found = [e["attempts"] for s in doc["sinks"] for e in s["events"] if e["id"] == a.id]
            print(found[0] if found else "none")
        elif a.cmd == "meta":
            if not os.path.exists(a.file):
                print("none")
            else:
                with open(a.file, encoding="utf-8") as f:
                    m = json.load(f)
                print("%d %.3f %d" % (m["attempts"], m["next_try"] / 1e9, m["last_status"]))
        elif a.cmd == "delivered":
            return cmd_delivered(a)
    except (OSError, ValueError, KeyError) as e:
        print("ERROR: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
