#!/usr/bin/python3
# Reference prober: what the kernel tells an ordinary socket about ADDR:53, in watch53's words.
# The integration tests use it to check the fixture (nftables verdicts, ICMP types the kernel
# really sends) before judging watch53, so a kernel or firewall surprise is not blamed on it.
#
#   refprobe.py [--timeout S] ADDR...   prints, per address (probed in parallel):
#       ADDR tcp=STATE/REASON udp=STATE/REASON
# TCP: non-blocking connect with IP_RECVERR; UDP: connected socket, one ". NS" query, IP_RECVERR.
# Only ever run inside the test's own network namespace.

import argparse
import errno
import select
import socket
import struct
import sys
import threading

from dnslib import DNSRecord, EDNS0

IP_RECVERR = 11
IPV6_RECVERR = 25
SO_EE_ORIGIN_ICMP = 2
SO_EE_ORIGIN_ICMP6 = 3


def icmp_reason(origin, typ, code):
    if origin == SO_EE_ORIGIN_ICMP and typ == 3:
        return {3: "port-unreach", 9: "admin-prohibited", 10: "admin-prohibited",
                13: "admin-prohibited"}.get(code, "host-unreach")
    if origin == SO_EE_ORIGIN_ICMP6 and typ == 1:
        return {4: "port-unreach", 1: "admin-prohibited"}.get(code, "host-unreach")
    return "icmp-%d-%d-%d" % (origin, typ, code)


def errqueue(s):
    """The ICMP error queued on s as a reason, or None."""
    try:
        _, anc, _, _ = s.recvmsg(512, 512, socket.MSG_ERRQUEUE)
    except OSError:
        return None
    for _, _, data in anc:
        if len(data) >= 7:
            _, origin, typ, code = struct.unpack("=IBBB", data[:7])
            return icmp_reason(origin, typ, code)
    return None


def new_sock(addr, kind):
    v6 = ":" in addr
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, kind)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    else:
        s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    return s


def state_of(reason):
    if reason in ("syn-ack", "response"):
        return "open"
    if reason in ("reset", "port-unreach"):
        return "closed"
    return "filtered"


def probe_tcp(addr, timeout):
    with new_sock(addr, socket.SOCK_STREAM) as s:
        s.setblocking(False)
        try:
            s.connect((addr, 53))
        except BlockingIOError:
            pass
        except OSError:
            pass
        p = select.poll()
        p.register(s, select.POLLOUT | select.POLLERR)
        if not p.poll(int(timeout * 1000)):
            return "no-response"
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            return "syn-ack"
        why = errqueue(s)
        if why:
            return why
        return "reset" if err == errno.ECONNREFUSED else "error-" + errno.errorcode.get(err, str(err))


def probe_udp(addr, timeout):
    with new_sock(addr, socket.SOCK_DGRAM) as s:
        s.connect((addr, 53))
        q = DNSRecord.question(".", "NS")
        q.header.rd = 0
        q.add_ar(EDNS0(udp_len=1232))
        s.send(q.pack())
        p = select.poll()
        p.register(s, select.POLLIN | select.POLLERR)
        ev = p.poll(int(timeout * 1000))
        if not ev:
            return "no-response"
        if ev[0][1] & select.POLLERR:
            return errqueue(s) or "error"
        s.recv(65535)
        return "response"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("addr", nargs="+")
    a = ap.parse_args()
    if not 0 < a.timeout <= 10 or len(a.addr) > 64:
        ap.error("timeout within (0, 10] s, at most 64 addresses")
    out = {}

    def one(addr):
        try:
            t = probe_tcp(addr, a.timeout)
            u = probe_udp(addr, a.timeout)
            out[addr] = "tcp=%s/%s udp=%s/%s" % (state_of(t), t, state_of(u), u)
        except OSError as e:
            out[addr] = "error=%s" % e
    threads = [threading.Thread(target=one, args=(x,)) for x in a.addr]
    for t in threads:
        t.start()
    for t in threads:
        t.join(4 * a.timeout + 5)
    for x in a.addr:
        print("%s %s" % (x, out.get(x, "error=hung")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
