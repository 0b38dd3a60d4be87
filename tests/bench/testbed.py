#!/usr/bin/python3
# The benchmark's testbed: N loopback addresses with known port-53 behaviour.
#
#   testbed.py gen --n N --seed S --dir DIR [--base 127.100.0.0]
#       writes DIR/truth.tsv   (address expected_tcp expected_udp class; a '#' header line)
#              DIR/targets.txt (one address a line: for watch53 @FILE and nmap -iL)
#              DIR/nft.conf    (the nftables ruleset that gives each class its behaviour)
#       and prints the class counts.  Deterministic: the same N and seed give the same files.
#
#   testbed.py kstat snap FILE | kstat diff FILE
#       saves / compares the namespace's kernel drop counters (listen overflows, UDP receive
#       buffer errors, ICMP rate limiting, input backlog drops): proof the testbed lost nothing.
#
#   testbed.py verify --truth DIR/truth.tsv [--per-class K] [--slow-ms MS]
#       probes K addresses of each class (the first, the last and random ones) over TCP and UDP
#       with plain sockets and exits 1 if any answers differently from the ground truth.
#       Only ever run inside the benchmark's namespace.
#
# Classes (share of N):
#   closed    55%   nft: TCP reject with reset, UDP reject with ICMP port unreachable
#   filtered  38%   nft: drop TCP and UDP
#   open       4%   the wildcard responder answers (TCP accept, UDP reply from that address)
#   slow-open  2%   open, but every packet to it is held back --slow-ms (delayer.py)
#   tcp-only 0.5%   open on TCP, UDP rejected (port unreachable)
#   udp-only 0.5%   open on UDP, TCP rejected (reset)

import argparse
import ipaddress
import os
import random
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

CLASSES = [  # name, share, expected tcp, expected udp
    ("closed", 0.55, "closed", "closed"),
    ("filtered", 0.38, "filtered", "filtered"),
    ("open", 0.04, "open", "open"),
    ("slow-open", 0.02, "open", "open"),
    ("tcp-only", 0.005, "open", "closed"),
    ("udp-only", 0.005, "closed", "open"),
]
EXPECT = {c[0]: (c[2], c[3]) for c in CLASSES}
CAPTURE_MARK = 0x5301
REINJECT_MARK = 0x5302
MAX_N = 1 << 20


def counts_for(n):
    """Exact class counts for n addresses: every class present when n >= 6, rest is closed."""
    cnt = {}
    for name, share, _, _ in CLASSES[1:]:
        c = int(round(n * share))
        if n >= len(CLASSES) and c == 0:
            c = 1
        cnt[name] = c
    cnt["closed"] = n - sum(cnt.values())
    want = 1 if n >= len(CLASSES) else 0
    while cnt["closed"] < want:  # tiny n: take from the largest other class
        big = max(CLASSES[1:], key=lambda c: cnt[c[0]])[0]
        if cnt[big] == 0:
            break
        cnt[big] -= 1
        cnt["closed"] += 1
    return cnt


def nft_set(name, addrs):
    lines = ["    set %s {" % name, "        type ipv4_addr"]
    if addrs:
        lines.append("        elements = {")
        for i in range(0, len(addrs), 8):
            lines.append("            " + ", ".join(addrs[i:i + 8]) + ",")
        lines.append("        }")
    lines.append("    }")
    return lines


def gen(a):
    if not 1 <= a.n <= MAX_N:
        sys.exit("testbed: N must be within 1..%d" % MAX_N)
    base = ipaddress.IPv4Address(a.base)
    last = base + (a.n - 1)
    # loopback (scan_bench.sh), or the benchmarking range 198.18.0.0/15 (RFC 2544) that
    # syn_bench.sh assigns inside its own namespaces
    bench = ipaddress.IPv4Network("198.18.0.0/15")
    in_lo = (ipaddress.IPv4Network("127.0.0.0/8").supernet_of(ipaddress.IPv4Network(str(base)))
             and int(last) < int(ipaddress.IPv4Address("127.255.255.255"))
             and int(base) > int(ipaddress.IPv4Address("127.0.0.255")))
    in_bench = base in bench and last in bench
    if not (in_lo or in_bench):
        sys.exit("testbed: %s..%s must lie inside 127.0.1.0-127.255.255.254 or 198.18.0.0/15"
                 % (base, last))
    cnt = counts_for(a.n)
    labels = []
    for name, _, _, _ in CLASSES:
        labels += [name] * cnt[name]
    rng = random.Random(a.seed)
    rng.shuffle(labels)
    addrs = [str(base + i) for i in range(a.n)]
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "truth.tsv"), "w") as f:
        f.write("# address expected_tcp expected_udp class (n=%d seed=%s)\n" % (a.n, a.seed))
        for ad, c in zip(addrs, labels):
            f.write("%s %s %s %s\n" % (ad, EXPECT[c][0], EXPECT[c][1], c))
    with open(os.path.join(a.dir, "targets.txt"), "w") as f:
        f.write("\n".join(addrs) + "\n")
    by = {name: [] for name, _, _, _ in CLASSES}
    for ad, c in zip(addrs, labels):
        by[c].append(ad)
    rules = ["table inet w53bench {"]
    rules += nft_set("closed", by["closed"])
    rules += nft_set("filtered", by["filtered"])
    rules += nft_set("tcp_only", by["tcp-only"])
    rules += nft_set("udp_only", by["udp-only"])
    rules += nft_set("slow", by["slow-open"])
    rules += [
        "    chain input {",
        "        type filter hook input priority 0; policy accept;",
        # the delayer's capture copy of a slow packet: the original must not arrive
        "        meta mark 0x%x counter drop" % CAPTURE_MARK,
        "        ip daddr @closed tcp dport 53 counter reject with tcp reset",
        "        ip daddr @closed udp dport 53 counter reject with icmpx type port-unreachable",
        "        ip daddr @filtered meta l4proto { tcp, udp } th dport 53 counter drop",
        "        ip daddr @tcp_only udp dport 53 counter reject with icmpx type port-unreachable",
        "        ip daddr @udp_only tcp dport 53 counter reject with tcp reset",
        "        ip daddr @slow meta mark 0x%x counter accept" % REINJECT_MARK,
        "    }",
        "    chain output {",
        "        type filter hook output priority 0; policy accept;",
        "        ip daddr @slow meta l4proto { tcp, udp } th dport 53 meta mark != 0x%x "
        "counter meta mark set 0x%x" % (REINJECT_MARK, CAPTURE_MARK),
        "    }",
        "}",
    ]
    with open(os.path.join(a.dir, "nft.conf"), "w") as f:
        f.write("\n".join(rules) + "\n")
    print("testbed: %d addresses %s-%s, seed %s: %s" % (
        a.n, addrs[0], addrs[-1], a.seed,
        ", ".join("%s %d" % (name, cnt[name]) for name, _, _, _ in CLASSES)))
    return 0


# ---------------------------------------------------------------------------------------------
# verify

def dns_query():
    qid = random.randrange(0x10000)
    # id, flags (RD=0), 1 question: ". NS IN"
    return qid, struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + b"\x00" + struct.pack("!HH", 2, 1)


def probe_tcp(addr, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((addr, 53))
        return "open", time.monotonic() - t0
    except ConnectionRefusedError:
        return "closed", time.monotonic() - t0
    except socket.timeout:
        return "filtered", None
    except OSError as e:
        return "error:%s" % e.strerror, None
    finally:
        s.close()


def probe_udp(addr, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    t0 = time.monotonic()
    try:
        s.connect((addr, 53))       # only datagrams from addr:53 are delivered to us
        qid, q = dns_query()
        s.send(q)
        while True:
            r = s.recv(4096)
            if len(r) >= 12 and struct.unpack("!H", r[:2])[0] == qid:
                return "open", time.monotonic() - t0
    except ConnectionRefusedError:
        return "closed", time.monotonic() - t0
    except socket.timeout:
        return "filtered", None
    except OSError as e:
        return "error:%s" % e.strerror, None
    finally:
        s.close()


def verify(a):
    rows = []
    with open(a.truth) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            ad, et, eu, c = line.split()
            rows.append((ad, et, eu, c))
    rng = random.Random(12345)
    sample = []
    for name, _, _, _ in CLASSES:
        members = [r for r in rows if r[3] == name]
        if not members:
            continue
        pick = {0, len(members) - 1}
        while len(pick) < min(a.per_class, len(members)):
            pick.add(rng.randrange(len(members)))
        sample += [members[i] for i in sorted(pick)]
    slow = a.slow_ms / 1000.0
    timeout = max(1.0, 3 * slow)

    def check(row):
        ad, et, eu, c = row
        gt, rtt_t = probe_tcp(ad, timeout)
        gu, rtt_u = probe_udp(ad, timeout)
        problems = []
        if gt != et:
            problems.append("tcp %s (expected %s)" % (gt, et))
        if gu != eu:
            problems.append("udp %s (expected %s)" % (gu, eu))
        for proto, rtt in (("tcp", rtt_t), ("udp", rtt_u)):
            if rtt is None:
                continue
            if c == "slow-open" and rtt < 0.8 * slow:
                problems.append("%s rtt %.0f ms, slow-open expects >= %.0f ms"
                                % (proto, rtt * 1000, 0.8 * slow * 1000))
            if c != "slow-open" and slow > 0 and rtt > 0.5 * slow:
                problems.append("%s rtt %.0f ms: not slow-open, yet slow" % (proto, rtt * 1000))
        return row, problems, rtt_t, rtt_u

    bad = 0
    per = {}
    with ThreadPoolExecutor(max_workers=min(64, max(1, len(sample)))) as ex:
        for row, problems, rtt_t, rtt_u in ex.map(check, sample):
            per.setdefault(row[3], [0, 0, []])
            per[row[3]][0] += 1
            if problems:
                bad += 1
                per[row[3]][1] += 1
                print("verify: WRONG %s (%s): %s" % (row[0], row[3], "; ".join(problems)))
            elif rtt_t is not None:
                per[row[3]][2].append(rtt_t)
    for name, _, _, _ in CLASSES:
        if name in per:
            n, b, rtts = per[name]
            extra = ""
            if rtts:
                extra = ", tcp rtt %.1f-%.1f ms" % (min(rtts) * 1000, max(rtts) * 1000)
            print("verify: %-9s %2d sampled, %d wrong%s" % (name, n, b, extra))
    if bad:
        print("verify: the testbed does NOT match its ground truth (%d of %d sampled wrong)"
              % (bad, len(sample)))
        return 1
    print("verify: testbed matches ground truth (%d addresses sampled)" % len(sample))
    return 0


# ---------------------------------------------------------------------------------------------
# kernel counters: evidence that the testbed itself lost nothing during a run

KSTAT_KEYS = [  # (file section, counter): what would mean "the kernel dropped it, not the tool"
    ("TcpExt", "ListenOverflows"), ("TcpExt", "ListenDrops"), ("TcpExt", "TCPReqQFullDrop"),
    ("TcpExt", "TCPBacklogDrop"), ("Udp", "RcvbufErrors"), ("Udp", "SndbufErrors"),
    ("Udp", "InErrors"), ("Icmp", "OutRateLimitGlobal"), ("Icmp", "OutRateLimitHost"),
    ("IpExt", "InNoRoutes"), ("softnet", "dropped"),
]


def kstat_read():
    vals = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for head, data in zip(lines[0::2], lines[1::2]):
            hk, hv = head.split(":", 1)
            dk, dv = data.split(":", 1)
            if hk != dk:
                continue
            for k, v in zip(hv.split(), dv.split()):
                try:
                    vals["%s.%s" % (hk, k)] = int(v)
                except ValueError:
                    pass
    try:    # global, not per namespace: the per-CPU input backlog (net.core.netdev_max_backlog)
        with open("/proc/net/softnet_stat") as f:
            vals["softnet.dropped"] = sum(int(line.split()[1], 16) for line in f if line.strip())
    except (OSError, ValueError, IndexError):
        pass
    return vals


def kstat(a):
    if a.action == "snap":
        with open(a.file, "w") as f:
            for k, v in sorted(kstat_read().items()):
                f.write("%s %d\n" % (k, v))
        return 0
    def load(path):
        d = {}
        with open(path) as f:
            for line in f:
                k, v = line.split()
                d[k] = int(v)
        return d
    before, after = load(a.file), kstat_read()
    parts = []
    for sec, name in KSTAT_KEYS:
        k = "%s.%s" % (sec, name)
        if k in before and k in after:
            parts.append("%s=%d" % (name if sec != "softnet" else "softnet_dropped",
                                    after[k] - before[k]))
    print("kernel drop counters during the run (all 0 = the testbed lost nothing): "
          + " ".join(parts))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--n", type=int, required=True)
    g.add_argument("--seed", default="53")
    g.add_argument("--base", default="127.100.0.0")
    g.add_argument("--dir", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--truth", required=True)
    v.add_argument("--per-class", type=int, default=8)
    v.add_argument("--slow-ms", type=float, default=250.0)
    k = sub.add_parser("kstat", help="snap FILE: save counters; diff FILE: print deltas")
    k.add_argument("action", choices=("snap", "diff"))
    k.add_argument("file")
    a = p.parse_args()
    return {"gen": gen, "verify": verify, "kstat": kstat}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
