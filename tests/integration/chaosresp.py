#!/usr/bin/python3
# A DNS server whose CHAOS TXT answers are chosen by the test (alerts_hostile.int): what a
# hostile server would put into version.bind and hostname.bind.
#
#   chaosresp.py --addr ADDR [--port 53] --hostname TEXT --version-file FILE
#                --pidfile FILE --log FILE [--max-runtime SECS]
#
# UDP and TCP on ADDR:PORT.  hostname.bind CH TXT: TEXT (UTF-8), always.  version.bind CH
# TXT: the contents of FILE (UTF-8, one TXT string, at most 255 bytes) when FILE exists and
# is not empty, else REFUSED (a server hiding its version); the file is read at every query,
# so the test switches the answer by writing it.  Any other CHAOS name: REFUSED.  Any IN
# question: NOERROR, no records, aa=0 ra=0 (an authoritative server for nothing).
# One log line a query: "proto=udp event=query qname=version.bind. qclass=CH qtype=TXT
# answer=version|hostname|refused|empty".
# Network safety: binds only loopback addresses; exits by itself after --max-runtime.
# The pidfile is written after every socket is bound; SIGTERM/SIGINT: remove it and exit 0.
# Standard library and Debian's python3-dnslib; run it with /usr/bin/python3.

import argparse
import ipaddress
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

from dnslib import CLASS, DNSRecord, QTYPE, RCODE, RR, TXT

stop = threading.Event()
log_lock = threading.Lock()


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--hostname", required=True)
    p.add_argument("--version-file", required=True)
    p.add_argument("--pidfile", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--max-runtime", type=float, default=300.0)
    a = p.parse_args()
    if not ipaddress.ip_address(a.addr).is_loopback:
        p.error("refusing a non-loopback address: %s" % a.addr)
    return a


def txt_rr(qname, text):
    data = text.encode("utf-8")
    if len(data) > 255:
        raise ValueError("a TXT string holds at most 255 bytes")
    return RR(qname, QTYPE.TXT, CLASS.CH, ttl=0, rdata=TXT([data]))


def reply(args, data, proto, logf):
    try:
        q = DNSRecord.parse(data)
    except Exception:           # dnslib raises assorted errors on junk: say nothing
        return None
    if not q.questions:
        return None
    qn = str(q.q.qname).lower()
    r = q.reply(ra=0, aa=0)
    r.ar = []
    what = "empty"
    if q.q.qclass == CLASS.CH and q.q.qtype == QTYPE.TXT and qn == "hostname.bind.":
        r.add_answer(txt_rr(q.q.qname, args.hostname))
        what = "hostname"
    elif q.q.qclass == CLASS.CH and q.q.qtype == QTYPE.TXT and qn == "version.bind.":
        try:
            with open(args.version_file, encoding="utf-8") as f:
                v = f.read().rstrip("\n")
        except FileNotFoundError:
            v = ""
        if v:
            r.add_answer(txt_rr(q.q.qname, v))
            what = "version"
        else:
            r.header.rcode = RCODE.REFUSED
            what = "refused"
    elif q.q.qclass == CLASS.CH:
        r.header.rcode = RCODE.REFUSED
        what = "refused"
    with log_lock:
        logf.write("proto=%s event=query qname=%s qclass=%s qtype=%s answer=%s\n" % (
            proto, qn, CLASS.get(q.q.qclass), QTYPE.get(q.q.qtype), what))
        logf.flush()
    return r.pack()


def tcp_conn(conn, args, logf):
    try:
        conn.settimeout(5.0)
        while not stop.is_set():
            hdr = conn.recv(2, socket.MSG_WAITALL)
            if len(hdr) < 2:
                return
            (n,) = struct.unpack("!H", hdr)
            data = conn.recv(n, socket.MSG_WAITALL)
            if len(data) < n:
                return
            out = reply(args, data, "tcp", logf)
            if out is None:
                return
            conn.sendall(struct.pack("!H", len(out)) + out)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    args = parse_args()
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((args.addr, args.port))
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((args.addr, args.port))
    t.listen(16)
    logf = open(args.log, "a", buffering=1, encoding="utf-8")

    def on_signal(_s, _f):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open(args.pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(args.pidfile + ".tmp", args.pidfile)
    deadline = time.monotonic() + args.max_runtime
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            rd, _, _ = select.select([u, t], [], [], 0.2)
        except InterruptedError:
            continue
        if u in rd:
            data, peer = u.recvfrom(65535)
            out = reply(args, data, "udp", logf)
            if out is not None:
                u.sendto(out, peer)
        if t in rd:
            conn, _ = t.accept()
            if threading.active_count() < 32:
                threading.Thread(target=tcp_conn, args=(conn, args, logf), daemon=True).start()
            else:
                conn.close()
    try:
        os.unlink(args.pidfile)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
