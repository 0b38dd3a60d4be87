#!/usr/bin/python3
# Read what `watch53 check` left behind - printed events, outbox files, metrics - for the
# check_*.int integration tests, so the shell scripts can assert on plain lines.
#
#   check_events.py list FILE...            one line per event printed (--format jsonl):
#                                           "TYPE ADDRESS PROTOCOL SEVERITY PREVIOUS>CURRENT ID",
#                                           sorted; exit 1 if a line is not an event object
#   check_events.py outbox DIR [--exact FILE...]
#                                           every DIR/<sink>/*.json parses, has every event key
#                                           and is named after its id; with --exact, the outbox
#                                           holds exactly the events in FILE(s) (same ids, and each
#                                           file's JSON equal to the printed object), per sink
#   check_events.py covered DIR IDS         every id in IDS (one a line) has an outbox file in
#                                           every sink directory of DIR
#   check_events.py recorded DIR STATE_DB   every event in the outbox DIR is in the history of
#                                           STATE_DB (the state recorded it), and each sink's
#                                           files are numbered in the order it recorded them
#   check_events.py summary FILE... TYPE ADDRESS PROTOCOL
#                                           the "summary" of the one printed event of TYPE for
#                                           ADDRESS/PROTOCOL (exit 1 if there is not exactly one)
#   check_events.py metric FILE NAME [LABEL=VALUE...]
#                                           the value of the one sample of NAME with those labels
#                                           ("missing" / "ambiguous" otherwise)
#
# Prints a reason for every failure (expected vs actual); exit 0 ok, 1 mismatch, 2 bad usage.
# Standard library only.

import glob
import json
import os
import re
import sys

EVENT_KEYS = ("id", "type", "time", "agent", "vantage", "target", "address", "protocol", "port",
              "previous", "current", "dns", "severity")
TYPES = {"opened", "closed", "changed", "flapping", "degraded", "exposed", "recovered", "unresolved", "resolved", "test"}
SEVERITIES = {"info", "low", "medium", "high", "critical"}


def bad_event(obj):
    """Why obj is not a well-formed event, or None."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    missing = [k for k in EVENT_KEYS if k not in obj]
    if missing:
        return "missing keys %s" % ",".join(missing)
    if not isinstance(obj["id"], str) or not re.fullmatch(r"[A-Za-z0-9._-]{8,128}", obj["id"]):
        return "bad id %r" % (obj["id"],)
    if obj["type"] not in TYPES:
        return "bad type %r" % (obj["type"],)
    if obj["severity"] not in SEVERITIES:
        return "bad severity %r" % (obj["severity"],)
    return None


def read_events(paths):
    """[(event, where)]; raises ValueError on a bad line."""
    out = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = "%s:%d" % (p, n)
                try:
                    obj = json.loads(line)
                except ValueError as e:
                    raise ValueError("%s: not JSON (%s): %r" % (where, e, line[:200]))
                why = bad_event(obj)
                if why:
                    raise ValueError("%s: %s: %r" % (where, why, line[:200]))
                out.append((obj, where))
    return out


def fmt(ev):
    return "%s %s %s %s %s>%s %s" % (ev["type"], ev["address"] or "-", ev["protocol"] or "-",
                                     ev["severity"], ev["previous"] or "-",
                                     ev["current"] or "-", ev["id"])


def cmd_list(paths):
    try:
        evs = read_events(paths)
    except (OSError, ValueError) as e:
        print("ERROR: %s" % e)
        return 1
    for line in sorted(fmt(ev) for ev, _ in evs):
        print(line)
    return 0


def cmd_summary(paths, typ, addr, proto):
    try:
        evs = read_events(paths)
    except (OSError, ValueError) as e:
        print("ERROR: %s" % e)
        return 1
    hits = [ev for ev, _ in evs
            if ev["type"] == typ and ev["address"] == addr and ev["protocol"] == proto]
    if len(hits) != 1:
        print("ERROR: %d %s event(s) for %s %s, expected one" % (len(hits), typ, addr, proto))
        return 1
    print(hits[0].get("summary", ""))
    return 0


EVENT_FILE = re.compile(r'^(?:([0-9]{10,20})\.)?([0-9a-fA-F-]{36})\.json$')


def outbox_files(d):
    """{sink: {id: path}} for DIR/<sink>/[<seq>.]<id>.json (temporary files are not events);
    a name of another shape is kept under the name itself (and fails the id check)."""
    sinks = {}
    if not os.path.isdir(d):
        return sinks
    for s in sorted(os.listdir(d)):
        sd = os.path.join(d, s)
        if os.path.isdir(sd):
            files = {}
            for p in glob.glob(os.path.join(sd, "*.json")):
                m = EVENT_FILE.match(os.path.basename(p))
                files[m.group(2) if m else os.path.basename(p)] = p
            sinks[s] = files
    return sinks


def outbox_order(d):
    """{sink: [id, ...]} in the order of the files' sequence numbers."""
    out = {}
    for s, files in outbox_files(d).items():
        seqs = []
        for i, p in files.items():
            m = EVENT_FILE.match(os.path.basename(p))
            seqs.append((int(m.group(1) or 0) if m else 0, i))
        out[s] = [i for _, i in sorted(seqs)]
    return out


def cmd_outbox(d, exact):
    fails = 0
    sinks = outbox_files(d)
    stored = {}     # sink -> {id: obj}
    nfiles = 0
    for s, files in sinks.items():
        stored[s] = {}
        for name, path in sorted(files.items()):
            nfiles += 1
            try:
                with open(path, encoding="utf-8") as f:
                    obj = json.load(f)
            except (OSError, ValueError) as e:
                print("FAIL: outbox file %s does not parse as JSON: %s" % (path, e))
                fails += 1
                continue
            why = bad_event(obj)
            if why:
                print("FAIL: outbox file %s: %s" % (path, why))
                fails += 1
                continue
            if name != obj["id"]:
                print("FAIL: outbox file %s holds event id %s (expected the name "
                      "[<seq>.]%s.json)" % (path, obj["id"], obj["id"]))
                fails += 1
            stored[s][obj["id"]] = obj
    print("outbox: %d file(s) in %d sink(s) %s" % (nfiles, len(sinks), sorted(sinks)))
    if exact is not None:
        try:
            want = {ev["id"]: ev for ev, _ in read_events(exact)}
        except (OSError, ValueError) as e:
            print("ERROR: %s" % e)
            return 1
        if want and not sinks:
            print("FAIL: %d event(s) printed, but the outbox %s has no sink directory"
                  % (len(want), d))
            fails += 1
        for s, have in stored.items():
            for i in sorted(set(want) - set(have)):
                print("FAIL: sink %s: printed event %s (%s) has no outbox file"
                      % (s, i, fmt(want[i])))
                fails += 1
            for i in sorted(set(have) - set(want)):
                print("FAIL: sink %s: outbox file %s.json (%s) was not printed"
                      % (s, i, fmt(have[i])))
                fails += 1
            for i in sorted(set(have) & set(want)):
                if have[i] != want[i]:
                    diff = sorted(k for k in set(have[i]) | set(want[i])
                                  if have[i].get(k) != want[i].get(k))
                    print("FAIL: sink %s: event %s differs between stdout and outbox in %s: "
                          "printed %s, stored %s" % (s, i, diff,
                                                     {k: want[i].get(k) for k in diff},
                                                     {k: have[i].get(k) for k in diff}))
                    fails += 1
    return 1 if fails else 0


def cmd_covered(d, ids_file):
    with open(ids_file, encoding="utf-8") as f:
        ids = [l.strip() for l in f if l.strip()]
    sinks = outbox_files(d)
    fails = 0
    if ids and not sinks:
        print("FAIL: %d id(s) printed, but %s has no sink directory" % (len(ids), d))
        return 1
    for s, files in sinks.items():
        lost = [i for i in ids if i not in files]
        for i in lost[:20]:
            print("FAIL: sink %s: event %s was printed by a completed cycle but has no "
                  "outbox file (alert lost)" % (s, i))
        fails += len(lost)
        print("sink %s: %d of %d printed id(s) have an outbox file" % (s, len(ids) - len(lost),
                                                                       len(ids)))
    return 1 if fails else 0


def cmd_recorded(d, db):
    """Every event in the outbox is one the state recorded (its history in state.db), and
    each sink's files are numbered in the order the history recorded them."""
    import sqlite3
    import uuid
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        # the id's 16 bytes (schema 6; text before it)
        order = {(str(uuid.UUID(bytes=r[0])) if isinstance(r[0], bytes) else r[0]): r[1]
                 for r in con.execute("SELECT event_id, seq FROM history "
                                      "WHERE length(event_id) > 0")}
    finally:
        con.close()
    fails = 0
    n = 0
    for s, ids in outbox_order(d).items():
        for i in ids:
            n += 1
            if i not in order:
                print("FAIL: sink %s: outbox event %s is not in the state's history (an "
                      "event the state does not record)" % (s, i))
                fails += 1
        hist = [order[i] for i in ids if i in order]
        if hist != sorted(hist):
            print("FAIL: sink %s: outbox order %s is not the order of recording %s"
                  % (s, ids, hist))
            fails += 1
    print("outbox: %d event file(s), %s recorded in the state's history (%d history rows)"
          % (n, "all" if fails == 0 else "NOT all", len(order)))
    return 1 if fails else 0


SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


def cmd_metric(path, name, want):
    hits = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            if not m or m.group(1) != name:
                continue
            labels = dict(LABEL.findall(m.group(2) or ""))
            if all(labels.get(k) == v for k, v in want.items()):
                hits.append(m.group(3))
    print(hits[0] if len(hits) == 1 else ("missing" if not hits else "ambiguous"))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "list":
        return cmd_list(argv[1:])
    if len(argv) >= 2 and argv[0] == "outbox":
        exact = None
        if len(argv) > 2:
            if argv[2] != "--exact":
                return usage()
            exact = argv[3:]
        return cmd_outbox(argv[1], exact)
    if len(argv) >= 5 and argv[0] == "summary":
        return cmd_summary(argv[1:-3], argv[-3], argv[-2], argv[-1])
    if len(argv) == 3 and argv[0] == "covered":
        return cmd_covered(argv[1], argv[2])
    if len(argv) == 3 and argv[0] == "recorded":
        return cmd_recorded(argv[1], argv[2])
    if len(argv) >= 3 and argv[0] == "metric":
        want = {}
        for kv in argv[3:]:
            if "=" not in kv:
                return usage()
            k, v = kv.split("=", 1)
            want[k] = v
        return cmd_metric(argv[1], argv[2], want)
    return usage()


def usage():
    print("usage: check_events.py list|summary|outbox|covered|recorded|metric ... "
          "(see the file's head)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
