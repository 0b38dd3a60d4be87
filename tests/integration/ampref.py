#!/usr/bin/python3
# The amplification check, done independently with dnslib, for checks.int: for each ZONE send
# "ZONE ANY" and "ZONE DNSKEY" over UDP to ADDR:53 with EDNS buffer 4096 and DO (what watch53
# sends), and print the largest response/query size ratio as
#   factor=7.68 qname=signed.test. qtype=DNSKEY query_bytes=40 response_bytes=307
# (sizes are DNS payload octets, as watch53 counts them).  Only ever run inside the test's own
# network namespace.  Exit 1 when no query got an answer.
#
#   ampref.py ADDR ZONE...

import socket
import sys

from dnslib import DNSRecord, EDNS0


def one(addr, zone, qtype):
    q = DNSRecord.question(zone, qtype)
    q.header.rd = 0
    q.add_ar(EDNS0(udp_len=4096, flags="do"))
    raw = q.pack()
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.connect((addr, 53))
        s.send(raw)
        for _ in range(5):          # bounded: skip anything that is not our answer
            data = s.recv(65535)
            r = DNSRecord.parse(data)
            if r.header.id == q.header.id:
                return len(raw), len(data)
    return None


def main():
    if len(sys.argv) < 3:
        print("usage: ampref.py ADDR ZONE...", file=sys.stderr)
        return 2
    best = None
    for zone in sys.argv[2:]:
        for qtype in ("ANY", "DNSKEY"):
            try:
                got = one(sys.argv[1], zone, qtype)
            except OSError:
                got = None
            if got is None:
                continue
            qb, rb = got
            if best is None or rb * best[2] > best[3] * qb:
                best = (zone, qtype, qb, rb)
    if best is None:
        print("no answer")
        return 1
    zone, qtype, qb, rb = best
    print("factor=%.2f qname=%s qtype=%s query_bytes=%d response_bytes=%d"
          % (rb / qb, zone if zone.endswith(".") else zone + ".", qtype, qb, rb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
