#!/usr/bin/python3
# Accuracy (and the final summary) of the watch53 benchmark.
#
#   accuracy.py --truth truth.tsv --run LABEL=KIND:RESULTS[:TIMEFILE] [--run ...]
#               [--summary --headline LABEL --baseline LABEL --n N
#                --speed-target X --rss-limit-mb MB --deterministic CLASS,...]
#
# KIND is watch53 (jsonl: one record a line, tcp.state and udp.state) or nmap (-oX XML).
# TIMEFILE is the output of `/usr/bin/time -v -o TIMEFILE`: wall time, peak RSS, exit status.
#
# For every run it prints, per class of the ground truth and overall, the fraction of addresses
# whose TCP state and whose UDP state equal the truth, then a few wrong addresses per class with
# what the tool said (and watch53's reason), so a miss can be traced to the testbed or the tool.
# nmap states are mapped: tcp open/closed/filtered as is; udp open -> open, closed -> closed,
# open|filtered -> filtered, filtered -> filtered.  An address missing from a tool's output
# counts as wrong ("missing").
#
# With --summary it ends with the benchmark summary and PASS/FAIL lines.  Exit status 0 whatever
# the results (it is a benchmark); 2 when an input cannot be read.

import argparse
import json
import re
import sys
import xml.etree.ElementTree as ET

CLASS_ORDER = ["closed", "filtered", "open", "slow-open", "tcp-only", "udp-only"]
NMAP_UDP = {"open": "open", "closed": "closed", "open|filtered": "filtered",
            "filtered": "filtered", "closed|filtered": "closed|filtered"}
EXAMPLES = 4


def load_truth(path):
    truth = {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            ad, et, eu, c = line.split()
            truth[ad] = (et, eu, c)
    return truth


def load_watch53(path):
    res, bad = {}, 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                bad += 1
                continue
            ad = r.get("address")
            tcp = r.get("tcp") or {}
            udp = r.get("udp") or {}
            res[ad] = (tcp.get("state", "absent"), udp.get("state", "absent"),
                       tcp.get("reason"), udp.get("reason"), tcp.get("rtt_ms"), udp.get("rtt_ms"))
    return res, bad


def load_zmap(path):
    """zmap: "TCP.csv,UDP.csv", two csv outputs (-f saddr,classification,success, every
    response; the UDP one also icmp_unreach_str). tcp: synack -> open, rst -> closed; udp: a
    UDP reply -> open, ICMP port unreachable -> closed, other ICMP unreachables -> filtered
    (the testbed's rejects come from the probed address itself, zmap's saddr); silence ->
    filtered."""
    tcp_path, _, udp_path = path.partition(",")
    got = {}
    bad = 0
    for i, pth in ((0, tcp_path), (1, udp_path)):
        with open(pth, errors="replace") as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) < 3 or parts[0] == "saddr":
                    bad += parts[0] != "saddr" and bool(line.strip())
                    continue
                ad, cls = parts[0], parts[1]
                st = None
                if i == 0:
                    st = {"synack": "open", "rst": "closed"}.get(cls)
                elif cls == "udp":
                    st = "open"
                elif cls.startswith("icmp"):
                    st = "closed" if len(parts) > 3 and parts[3].startswith("port") \
                        else "filtered"
                if st is None:
                    continue
                cur = got.setdefault(ad, ["filtered", "filtered"])
                if cur[i] != "open":  # a repeat never takes an open back
                    cur[i] = st
    res = {}
    for ad, (t, u) in got.items():
        res[ad] = (t, u, None, None, None, None)
    return res, bad


def load_nmap(path):
    res = {}
    for _ev, el in ET.iterparse(path, events=("end",)):
        if el.tag != "host":
            continue
        ad = None
        for a in el.findall("address"):
            if a.get("addrtype") == "ipv4":
                ad = a.get("addr")
        st = {"tcp": "missing", "udp": "missing"}
        why = {"tcp": None, "udp": None}
        ports = el.find("ports")
        if ports is not None:
            for p in ports.findall("port"):
                if p.get("portid") != "53":
                    continue
                s = p.find("state")
                if s is None:
                    continue
                proto = p.get("protocol")
                state = s.get("state")
                if proto == "udp":
                    state = NMAP_UDP.get(state, state)
                if proto in st:
                    st[proto] = state
                    why[proto] = s.get("reason")
            for ex in ports.findall("extraports"):   # only when many ports share a state
                state = ex.get("state")
                for proto in ("tcp", "udp"):
                    if st[proto] == "missing":
                        st[proto] = NMAP_UDP.get(state, state) if proto == "udp" else state
        if ad:
            res[ad] = (st["tcp"], st["udp"], why["tcp"], why["udp"], None, None)
        el.clear()
    return res, 0


def parse_time(path):
    """{'wall': seconds, 'rss_kb': int, 'exit': int or None, 'signal': str or None}."""
    out = {"wall": None, "rss_kb": None, "exit": None, "signal": None, "cpu": None}
    if not path:
        return out
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return out
    m = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):(\d+(?:\.\d+)?)", text)
    if m:
        h = int(m.group(1) or 0)
        out["wall"] = h * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["rss_kb"] = int(m.group(1))
    m = re.search(r"Percent of CPU this job got: (\d+)%", text)
    if m:
        out["cpu"] = int(m.group(1))
    m = re.search(r"Exit status: (\d+)", text)
    if m:
        out["exit"] = int(m.group(1))
    m = re.search(r"Command terminated by signal (\d+)", text)
    if m:
        out["signal"] = m.group(1)
    return out


def score(truth, res):
    """per class: [n, tcp_ok, udp_ok, both_ok, examples]; plus 'ALL'."""
    acc = {}
    for ad, (et, eu, c) in truth.items():
        got = res.get(ad)
        gt, gu = (got[0], got[1]) if got else ("missing", "missing")
        for key in (c, "ALL"):
            e = acc.setdefault(key, [0, 0, 0, 0, []])
            e[0] += 1
            e[1] += gt == et
            e[2] += gu == eu
            e[3] += gt == et and gu == eu
        if (gt != et or gu != eu) and len(acc[c][4]) < EXAMPLES:
            acc[c][4].append((ad, et, eu, got))
    return acc


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def rtt_line(res):
    """'tcp p50/p99/max ... udp ...' of the rtt_ms watch53 reported (None: none reported)."""
    out = []
    for i, proto in ((4, "tcp"), (5, "udp")):
        v = sorted(r[i] for r in res.values() if isinstance(r[i], (int, float)))
        if v:
            out.append("%s p50 %.2f p99 %.2f max %.2f (n=%d)"
                       % (proto, v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))], v[-1],
                          len(v)))
    return "; ".join(out) if out else None


def print_table(label, kind, acc, extra_out, n_truth):
    print("accuracy: %s (%s)" % (label, kind))
    print("  %-10s %7s  %9s  %9s  %9s" % ("class", "n", "tcp", "udp", "both"))
    for c in CLASS_ORDER + ["ALL"]:
        if c not in acc:
            continue
        n, t, u, b, _ = acc[c]
        print("  %-10s %7d  %8.2f%%  %8.2f%%  %8.2f%%" % (c, n, pct(t, n), pct(u, n), pct(b, n)))
    if extra_out:
        print("  (%d addresses in the output are not in the ground truth)" % extra_out)
    for c in CLASS_ORDER:
        if c not in acc or not acc[c][4]:
            continue
        n, t, u, _, ex = acc[c]
        print("  wrong in %s (tcp %d, udp %d of %d), e.g.:" % (c, n - t, n - u, n))
        for ad, et, eu, got in ex:
            if got is None:
                print("    %-15s expected tcp=%s udp=%s, got: missing from output" % (ad, et, eu))
                continue
            gt, gu, rt, ru, tt, tu = got
            extra = ""
            if rt or ru:
                extra = "  (reasons tcp=%s udp=%s" % (rt, ru)
                if tt is not None or tu is not None:
                    extra += ", rtt_ms tcp=%s udp=%s" % (tt, tu)
                extra += ")"
            print("    %-15s expected tcp=%s udp=%s, got tcp=%s udp=%s%s"
                  % (ad, et, eu, gt, gu, extra))
    print()


def fmt_s(x):
    return "n/a" if x is None else "%.2f s" % x


def fmt_mb(kb):
    return "n/a" if kb is None else "%.1f MB" % (kb / 1024.0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--truth", required=True)
    p.add_argument("--run", action="append", default=[],
                   help="LABEL=KIND:RESULTS[:TIMEFILE], KIND watch53 or nmap")
    p.add_argument("--summary", action="store_true")
    p.add_argument("--headline", help="label of the watch53 run the headline compares")
    p.add_argument("--baseline", help="label of the nmap run")
    p.add_argument("--n", type=int)
    p.add_argument("--zmap", help="label of the zmap run (watch53/zmap ratios)")
    p.add_argument("--zmap-target", help="label of the watch53 run held to the zmap targets")
    p.add_argument("--zmap-ratio", type=float, default=0.6)
    p.add_argument("--zmap-wall", type=float, default=3.5)
    p.add_argument("--speed-target", type=float, default=5.0)
    p.add_argument("--rss-limit-mb", type=float, default=64.0)
    p.add_argument("--deterministic", default="closed,filtered,open,slow-open,tcp-only,udp-only")
    p.add_argument("--note", action="append", default=[], help="a line to print in the summary")
    p.add_argument("--evidence", action="append", default=[],
                   help="a file of lines to print in the summary (missing files are skipped)")
    a = p.parse_args()

    try:
        truth = load_truth(a.truth)
    except (OSError, ValueError) as e:
        print("accuracy: cannot read ground truth %s: %s" % (a.truth, e), file=sys.stderr)
        return 2
    runs = []
    for spec in a.run:
        label, _, rest = spec.partition("=")
        parts = rest.split(":")
        if len(parts) < 2 or parts[0] not in ("watch53", "nmap", "zmap"):
            print("accuracy: bad --run %r" % spec, file=sys.stderr)
            return 2
        kind, results = parts[0], parts[1]
        timefile = parts[2] if len(parts) > 2 else None
        try:
            res, bad = {"watch53": load_watch53, "nmap": load_nmap,
                        "zmap": load_zmap}[kind](results)
        except (OSError, ET.ParseError) as e:
            print("accuracy: %s: cannot read %s: %s" % (label, results, e))
            res, bad = None, 0
        if kind == "zmap" and res is not None:
            # zmap lists who answered: an address it heard nothing from is filtered
            for ad in truth:
                res.setdefault(ad, ("filtered", "filtered", None, None, None, None))
        t = parse_time(timefile)
        acc = score(truth, res) if res is not None else None
        extra_out = len(set(res) - set(truth)) if res else 0
        if acc is not None:
            print_table(label, kind, acc, extra_out, len(truth))
            if bad:
                print("  (%d output lines were not JSON)\n" % bad)
        rtts = rtt_line(res) if (res and kind == "watch53") else None
        if rtts:
            print("  %s: rtt_ms reported: %s\n" % (label, rtts))
        runs.append({"label": label, "kind": kind, "acc": acc, "time": t,
                     "count": len(res) if res else 0, "rtts": rtts})

    if not a.summary:
        return 0

    by = {r["label"]: r for r in runs}
    det = [c for c in a.deterministic.split(",") if c]
    n = a.n or len(truth)
    print("=" * 78)
    print("SUMMARY  watch53 scan benchmark, N=%d addresses (ground truth: %s)" % (n, a.truth))
    for line in a.note:
        print("  " + line)
    ev = []
    for path in a.evidence:
        try:
            with open(path) as f:
                ev += [line.rstrip("\n") for line in f if line.strip()]
        except OSError:
            pass
    if ev:
        print("  testbed evidence per run (kernel drop counters; servers' counters for the run):")
        for line in ev:
            print("    " + line)
    print("-" * 78)
    print("  %-18s %9s %5s %9s %5s %8s %9s %9s" % ("run", "wall", "cpu", "peak RSS", "exit",
                                                  "records", "tcp acc", "udp acc"))
    for r in runs:
        t, acc = r["time"], r["acc"]
        ex = "sig" + t["signal"] if t["signal"] else ("n/a" if t["exit"] is None else str(t["exit"]))
        ta = ua = "n/a"
        if acc and "ALL" in acc:
            al = acc["ALL"]
            ta, ua = "%.2f%%" % pct(al[1], al[0]), "%.2f%%" % pct(al[2], al[0])
        cpu = "n/a" if t["cpu"] is None else "%d%%" % t["cpu"]
        print("  %-18s %9s %5s %9s %5s %8d %9s %9s" % (r["label"], fmt_s(t["wall"]), cpu,
                                                    fmt_mb(t["rss_kb"]), ex, r["count"], ta, ua))
    for r in runs:
        if r.get("rtts"):
            print("  %-18s rtt_ms %s" % (r["label"], r["rtts"]))
    print("-" * 78)
    print("  per-class accuracy (tcp/udp, %):")
    print("  %-24s" % "class" + "".join(" %16s" % r["label"][:16] for r in runs))
    for c in CLASS_ORDER:
        if c not in truth_classes(truth):
            continue
        row = "  %-24s" % ("%s (n=%d)%s" % (c, sum(1 for v in truth.values() if v[2] == c),
                                            "" if c in det else " *"))
        for r in runs:
            acc = r["acc"]
            if not acc or c not in acc:
                row += " %16s" % "n/a"
                continue
            e = acc[c]
            row += " %16s" % ("%.1f/%.1f" % (pct(e[1], e[0]), pct(e[2], e[0])))
        print(row)
    if any(c not in det for c in CLASS_ORDER):
        print("  (* not counted as deterministic for PASS/FAIL)")
    print("-" * 78)

    base = by.get(a.baseline) if a.baseline else None
    verdicts = []
    for r in runs:
        if r["kind"] != "watch53":
            continue
        tag = r["label"] + (" [HEADLINE]" if r["label"] == a.headline else "")
        w = r["time"]["wall"]
        if base and base["time"]["wall"] and w:
            ratio = base["time"]["wall"] / w
            print("  speed  %-30s nmap/watch53 = %.1fx (%s vs %s)"
                  % (tag, ratio, fmt_s(base["time"]["wall"]), fmt_s(w)))
            verdicts.append(("PASS" if ratio >= a.speed_target else "FAIL",
                             "%s: speed %.1fx faster than nmap (target >= %gx at N=%d)"
                             % (tag, ratio, a.speed_target, n)))
        else:
            verdicts.append(("FAIL" if base else "SKIP",
                             "%s: speed vs nmap not measured%s"
                             % (tag, "" if base else " (no nmap run)")))
        zb = by.get(a.zmap) if a.zmap else None
        if zb and zb["time"]["wall"] and w:
            zr = w / zb["time"]["wall"]
            print("  speed  %-30s watch53/zmap = %.2f (%s vs %s)"
                  % (tag, zr, fmt_s(w), fmt_s(zb["time"]["wall"])))
            if r["label"] == a.zmap_target:
                verdicts.append(("PASS" if zr <= a.zmap_ratio else "FAIL",
                                 "%s: %.0f%% of zmap's time (target <= %.0f%%)"
                                 % (r["label"], 100 * zr, 100 * a.zmap_ratio)))
                verdicts.append(("PASS" if w <= a.zmap_wall else "FAIL",
                                 "%s: wall %s (target <= %gs)" % (r["label"], fmt_s(w),
                                                                  a.zmap_wall)))
        acc = r["acc"]
        for c in det:
            if c not in truth_classes(truth):
                continue
            if not acc or c not in acc:
                verdicts.append(("FAIL", "%s: accuracy %s: no results" % (tag, c)))
                continue
            e = acc[c]
            ok = e[1] == e[0] and e[2] == e[0]
            verdicts.append(("PASS" if ok else "FAIL",
                             "%s: accuracy %-9s tcp %d/%d udp %d/%d (target 100%%)"
                             % (tag, c, e[1], e[0], e[2], e[0])))
        rss = r["time"]["rss_kb"]
        if rss is None:
            verdicts.append(("FAIL", "%s: peak RSS not measured" % tag))
        else:
            verdicts.append(("PASS" if rss / 1024.0 < a.rss_limit_mb else "FAIL",
                             "%s: peak RSS %s (target < %g MB)"
                             % (tag, fmt_mb(rss), a.rss_limit_mb)))
        ex = r["time"]["exit"]
        if r["time"]["signal"] or ex not in (0, 1):
            verdicts.append(("FAIL", "%s: watch53 exit status %s (expected 0 or 1)"
                             % (tag, "signal " + r["time"]["signal"]
                                if r["time"]["signal"] else ex)))
    zb = by.get(a.zmap) if a.zmap else None
    if zb and zb["acc"] and "ALL" in zb["acc"]:
        al = zb["acc"]["ALL"]
        print("  zmap   overall accuracy tcp %.2f%% udp %.2f%% (for reference, no target)"
              % (pct(al[1], al[0]), pct(al[2], al[0])))
    if base:
        acc = base["acc"]
        if acc and "ALL" in acc:
            al = acc["ALL"]
            print("  nmap   overall accuracy tcp %.2f%% udp %.2f%% (for reference, no target)"
                  % (pct(al[1], al[0]), pct(al[2], al[0])))
    print("-" * 78)
    for v, text in verdicts:
        print("%s %s" % (v, text))
    nfail = sum(1 for v, _ in verdicts if v == "FAIL")
    print("-" * 78)
    print("RESULT: %d of %d target checks failed%s" % (
        nfail, len(verdicts), "" if nfail == 0 else " (see FAIL lines)"))
    return 0


_classes_cache = {}


def truth_classes(truth):
    k = id(truth)
    if k not in _classes_cache:
        _classes_cache[k] = {v[2] for v in truth.values()}
    return _classes_cache[k]


if __name__ == "__main__":
    sys.exit(main())
