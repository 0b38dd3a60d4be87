#!/usr/bin/python3
# An independent DNS client for the integration tests: checks that a fixture server works before
# watch53 is pointed at it (so a broken fixture is not mistaken for a watch53 bug), and serves as
# the bounded readiness poll.  Only ever run inside the test's own network namespace.
#
#   dnsq.py [--tcp] [--rd] [--timeout S] ADDR QNAME QTYPE     one query; prints
#       rcode=NOERROR aa=0 ra=1 tc=0 id_ok=1 q_ok=1 an=2 answer=A:127.53.0.99,... qd=1
#       (qd: the reply's QDCOUNT as the header says it)
#   dnsq.py --wait S [--tcp] ADDR [QNAME QTYPE]                poll until ADDR:53 answers DNS
#   dnsq.py --wait S --connect ADDR                            poll until TCP ADDR:53 accepts
# Exit 0 on success, 1 on no answer / deadline passed, 2 on usage errors.

import argparse
import socket
import sys
import time

from dnslib import DNSRecord, EDNS0, QTYPE, RCODE


def query(addr, port, qname, qtype, tcp, rd, timeout):
    q = DNSRecord.question(qname, qtype)
    q.header.rd = 1 if rd else 0
    q.add_ar(EDNS0(udp_len=1232))
    raw = q.send(addr, port, tcp=tcp, timeout=timeout, ipv6=":" in addr)
    r = DNSRecord.parse(raw)
    return q, r


def summary(q, r):
    ans = ",".join("%s:%s" % (QTYPE.get(rr.rtype), rr.rdata) for rr in r.rr)
    q_ok = int(bool(r.questions) and r.q.qname == q.q.qname and r.q.qtype == q.q.qtype)
    return ("rcode=%s aa=%d ra=%d tc=%d id_ok=%d q_ok=%d an=%d answer=%s qd=%d"
            % (RCODE.get(r.header.rcode), r.header.aa, r.header.ra, r.header.tc,
               int(r.header.id == q.header.id), q_ok, len(r.rr), ans or "-", r.header.q))


def connect(addr, port, timeout):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((addr, port))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--rd", action="store_true")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--wait", type=float, help="poll until success, at most this many seconds")
    p.add_argument("--connect", action="store_true", help="with --wait: TCP connect only")
    p.add_argument("addr")
    p.add_argument("qname", nargs="?", default="example.test.")
    p.add_argument("qtype", nargs="?", default="SOA")
    a = p.parse_args()
    if a.wait is None:
        try:
            q, r = query(a.addr, a.port, a.qname, a.qtype, a.tcp, a.rd, a.timeout)
        except Exception as e:
            print("error=%s" % e)
            return 1
        print(summary(q, r))
        return 0
    if not 0 < a.wait <= 120:
        p.error("--wait must be within (0, 120] seconds")
    deadline = time.monotonic() + a.wait
    last = "never tried"
    for _ in range(1000):           # bounded in count as well as in time
        if time.monotonic() >= deadline:
            break
        try:
            if a.connect:
                connect(a.addr, a.port, 0.5)
            else:
                query(a.addr, a.port, a.qname, a.qtype, a.tcp, False, 0.5)
            return 0
        except Exception as e:
            last = str(e) or type(e).__name__
        time.sleep(0.1)
    print("dnsq: %s:%d did not answer within %gs (last error: %s)"
          % (a.addr, a.port, a.wait, last), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
