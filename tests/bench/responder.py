#!/usr/bin/python3
# The benchmark's ground truth for "open": ONE DNS responder for every open address of the testbed.
#
# It binds the wildcard 0.0.0.0:PORT once for UDP and once for TCP.  UDP replies leave from the
# exact address the query was sent to (IP_PKTINFO on receive, the same address as the source in
# sendmsg), so a scanner that only accepts a reply from the probed address sees each of thousands
# of 127.100.x.y addresses answer for itself.  The nftables ruleset of the testbed decides which
# addresses ever reach this process (reject: closed, drop: filtered).
#
# It must be fast and boring: it is not what is being measured.  One thread, a selectors (epoll)
# loop, non-blocking sockets, a TCP backlog as deep as the kernel allows, every UDP datagram
# answered as soon as it is read.  Any query gets a reply (NOERROR, question echoed; NOTIMP for
# non-QUERY opcodes such as nmap's status probe; a header-only FORMERR for junk).
#
# The pidfile is written after every socket is bound ("pidfile exists" = ready).  SIGTERM/SIGINT:
# stop, print counters to stderr, exit 0.  SIGUSR1: print the counters and reset them (the bench
# does it around each timed run).  --max-runtime bounds its life in any case.
#
# Run it with /usr/bin/python3 (Debian's python3-dnslib), inside the benchmark's namespace only.

import argparse
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time

from dnslib import DNSHeader, DNSRecord

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)    # = SCM_TIMESTAMPNS
SLOW_REPLY = 0.05        # a reply this long after the query arrived counts as slow
TCP_IDLE = 5.0           # seconds a TCP connection may sit idle before we close it
MAX_TCP_CONNS = 20000    # bound on connections held at once (oldest closed first)
UDP_DRAIN = 512          # datagrams handled per wake-up before looking at TCP again
ACCEPT_DRAIN = 1024      # connections accepted per wake-up

NAME = "responder"
stop = False
stats = {"udp_queries": 0, "udp_replies": 0, "udp_send_errors": 0, "udp_no_pktinfo": 0,
         "tcp_accepted": 0, "tcp_queries": 0, "tcp_idle_closed": 0, "tcp_evicted": 0,
         "junk": 0, "udp_max_delay_us": 0, "udp_slow_replies": 0}


def make_reply(data):
    """Reply bytes for one DNS message (None: too short to be DNS at all)."""
    if len(data) < 12:
        stats["junk"] += 1
        return None
    try:
        q = DNSRecord.parse(data)
        opcode = q.header.opcode
        r = DNSRecord(DNSHeader(id=q.header.id, qr=1, opcode=opcode, aa=0, tc=0,
                                rd=q.header.rd, ra=0, rcode=0 if opcode == 0 else 4),
                      questions=q.questions)
        return r.pack()
    except Exception:           # dnslib raises assorted errors on junk
        stats["junk"] += 1
        qid, flags = struct.unpack("!HH", data[:4])
        return struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x7900) | 1, 0, 0, 0, 0)


def on_udp(sock):
    for _ in range(UDP_DRAIN):
        try:
            data, anc, _flags, peer = sock.recvmsg(
                4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:         # e.g. a queued ICMP error for an earlier reply
            continue
        stats["udp_queries"] += 1
        dst = arrived = None
        for level, ctype, cdata in anc:
            if level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(cdata) >= 12:
                _ifindex, _spec_dst, dst = struct.unpack("I4s4s", cdata[:12])
            elif level == socket.SOL_SOCKET and ctype == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack("qq", cdata[:16])
                arrived = sec + nsec / 1e9
        reply = make_reply(data)
        if reply is None:
            continue
        cmsg = []
        if dst is not None:
            # in_pktinfo: ifindex 0 (routing decides), ipi_spec_dst = our source address.
            cmsg = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("I4s4s", 0, dst, bytes(4)))]
        else:
            stats["udp_no_pktinfo"] += 1
        try:
            sock.sendmsg([reply], cmsg, 0, peer)
            stats["udp_replies"] += 1
            if arrived is not None:
                # how long the query sat in our socket queue before we answered it: the
                # responder's own contribution to the round trip a scanner measures
                d = time.time() - arrived
                stats["udp_max_delay_us"] = max(stats["udp_max_delay_us"], int(d * 1e6))
                stats["udp_slow_replies"] += d > SLOW_REPLY
        except OSError:
            stats["udp_send_errors"] += 1


class Conns:
    """Accepted TCP connections: fd -> [socket, buffer, last activity]."""

    def __init__(self, sel):
        self.sel = sel
        self.c = {}             # insertion ordered: oldest first

    def add(self, conn):
        while len(self.c) >= MAX_TCP_CONNS:
            fd = next(iter(self.c))
            self.close(fd)
            stats["tcp_evicted"] += 1
        conn.setblocking(False)
        self.c[conn.fileno()] = [conn, b"", time.monotonic()]
        self.sel.register(conn, selectors.EVENT_READ, "conn")

    def close(self, fd):
        ent = self.c.pop(fd, None)
        if ent is None:
            return
        try:
            self.sel.unregister(ent[0])
        except (KeyError, ValueError):
            pass
        ent[0].close()

    def on_read(self, conn):
        fd = conn.fileno()
        ent = self.c.get(fd)
        if ent is None:
            return
        try:
            chunk = conn.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:         # reset by the scanner right after the handshake: normal
            self.close(fd)
            return
        if not chunk:
            self.close(fd)
            return
        ent[2] = time.monotonic()
        buf = ent[1] + chunk
        while len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) < 2 + n:
                break
            msg, buf = buf[2:2 + n], buf[2 + n:]
            stats["tcp_queries"] += 1
            out = make_reply(msg)
            if out is None:
                continue
            try:
                conn.send(struct.pack("!H", len(out)) + out)   # small: fits the socket buffer
            except OSError:
                self.close(fd)
                return
        ent[1] = buf[-65537:]

    def sweep(self):
        now = time.monotonic()
        for fd in [fd for fd, ent in self.c.items() if now - ent[2] > TCP_IDLE]:
            self.close(fd)
            stats["tcp_idle_closed"] += 1


def report(signum=None, frame=None):
    """Print the counters (on SIGUSR1: then restart them from zero, for the next run)."""
    print(NAME + ": " + " ".join("%s=%d" % kv for kv in stats.items()),
          file=sys.stderr, flush=True)
    if signum is not None:
        for k in stats:
            stats[k] = 0


def main():
    global stop
    p = argparse.ArgumentParser(description="wildcard DNS responder for the watch53 benchmark")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--pidfile", required=True)
    p.add_argument("--max-runtime", type=float, default=7200.0)
    a = p.parse_args()

    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = MAX_TCP_CONNS + 1024
        if hard != resource.RLIM_INFINITY and hard < want:
            want = hard
        if soft == resource.RLIM_INFINITY or soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    udp.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    for opt, size in ((SO_RCVBUFFORCE, 64 << 20), (SO_SNDBUFFORCE, 16 << 20)):
        try:
            udp.setsockopt(socket.SOL_SOCKET, opt, size)
        except OSError:
            pass
    udp.bind(("0.0.0.0", a.port))
    udp.setblocking(False)

    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", a.port))
    tcp.listen(65535)           # capped by net.core.somaxconn, which the bench raises
    tcp.setblocking(False)

    def on_signal(signum, frame):
        global stop
        stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, report)

    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "listen")
    conns = Conns(sel)

    tmp = a.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, a.pidfile)

    end = time.monotonic() + a.max_runtime
    next_sweep = time.monotonic() + 1.0
    try:
        while not stop and time.monotonic() < end:
            try:
                events = sel.select(0.5)
            except InterruptedError:
                continue
            for key, _ in events:
                if key.data == "udp":
                    on_udp(udp)
                elif key.data == "listen":
                    for _ in range(ACCEPT_DRAIN):
                        try:
                            conn, _peer = tcp.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        except OSError:
                            break
                        stats["tcp_accepted"] += 1
                        conns.add(conn)
                else:
                    conns.on_read(key.fileobj)
            if time.monotonic() >= next_sweep:
                conns.sweep()
                next_sweep = time.monotonic() + 1.0
    finally:
        for fd in list(conns.c):
            conns.close(fd)
        udp.close()
        tcp.close()
        try:
            os.unlink(a.pidfile)
        except OSError:
            pass
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
