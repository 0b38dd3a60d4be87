#!/usr/bin/python3
# A small DNS responder with deliberately odd behaviour, for watch53's integration tests.
#
# It binds ADDR:PORT (UDP and/or TCP), answers every query according to --mode, and appends one
# line per event to --log so a test can prove where its traffic went:
#   mode=wrong-id proto=udp event=query client=127.0.0.1:40000 qname=. qtype=NS id=4660
#   mode=ok proto=tcp event=connect client=127.0.0.1:40001
# The pidfile is written only after every socket is bound, so "pidfile exists" means ready.
# SIGTERM/SIGINT: stop, remove the pidfile, exit 0.
#
# Modes:
#   ok             NOERROR reply (aa=0, ra=0), question echoed
#   wrong-id       a correct reply but with transaction id + 1
#   wrong-question a reply with the right id for another name (wrong.example.test. A)
#   garbage        non-DNS bytes (b"\x00\x01hello")
#   late           a correct reply, but only after --delay seconds
#   tcp-only       like ok, TCP socket only (UDP to this address: kernel port unreachable)
#   udp-only       like ok, UDP socket only (TCP to this address: kernel reset)
#   silent         log, never reply
#   garbled-udp    UDP: as wrong-id (every reply's transaction id + 1); TCP: a recursive
#                  resolver's answer, RA set, NOERROR, one record of the asked type (A:
#                  --answer, AAAA: --answer6, NS: ns.example.test., others: none)
#
# --forge-icmp FILE (IPv4, UDP): while FILE exists, each UDP query first draws an ICMP port
# unreachable quoting it, forged from this address by a raw socket (what an off-path host that
# guessed the 5-tuple could send; needs CAP_NET_RAW), and the mode's reply follows --delay
# seconds later.  Logged as event=icmp-forged.
#
# Uses only the standard library and Debian's python3-dnslib. Run it with /usr/bin/python3.

import argparse
import heapq
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

from dnslib import AAAA, DNSError, DNSQuestion, DNSRecord, EDNS0, NS, QTYPE, RCODE, RR, A

MODES = ("ok", "wrong-id", "wrong-question", "garbage", "late",
         "tcp-only", "udp-only", "silent", "garbled-udp")
GARBAGE = b"\x00\x01hello"
TCP_IDLE = 5.0          # seconds a TCP connection may sit idle before we close it
MAX_TCP_THREADS = 64    # bound on concurrent TCP connections

stop = threading.Event()
log_lock = threading.Lock()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--mode", choices=MODES, default="ok")
    p.add_argument("--proto", choices=("udp", "tcp", "both"),
                   help="sockets to open (default: both; tcp-only/udp-only imply theirs)")
    p.add_argument("--delay", type=float, default=3.0,
                   help="late mode, --forge-icmp: seconds before replying")
    p.add_argument("--forge-icmp", metavar="FILE",
                   help="while FILE exists: an ICMP port unreachable first, the reply after --delay")
    p.add_argument("--answer", default="192.0.2.53", help="garbled-udp, TCP: the A answer")
    p.add_argument("--answer6", default="2001:db8::53", help="garbled-udp, TCP: the AAAA answer")
    p.add_argument("--pidfile", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--max-runtime", type=float, default=600.0,
                   help="exit by itself after this many seconds (a safety bound)")
    a = p.parse_args()
    if a.proto is None:
        a.proto = {"tcp-only": "tcp", "udp-only": "udp"}.get(a.mode, "both")
    if not 0 <= a.delay <= 60:
        p.error("--delay must be within 0..60 seconds")
    return a


class Log:
    def __init__(self, path, mode):
        self.f = open(path, "a", buffering=1)
        self.mode = mode

    def write(self, proto, event, client, **kv):
        parts = ["mode=%s" % self.mode, "proto=%s" % proto, "event=%s" % event,
                 "client=%s" % fmt_peer(client)]
        parts += ["%s=%s" % (k, v) for k, v in kv.items()]
        with log_lock:
            self.f.write(" ".join(parts) + "\n")
            self.f.flush()


def fmt_peer(peer):
    host, port = peer[0], peer[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def decode(data):
    """(record or None, fields for the log)."""
    try:
        q = DNSRecord.parse(data)
    except (DNSError, Exception) as e:  # dnslib raises assorted errors on junk
        return None, {"qname": "?", "qtype": "?", "id": "?",
                      "error": repr(str(e)).replace(" ", "_")}
    if q.questions:
        qn = str(q.q.qname)
        qt = QTYPE.get(q.q.qtype, str(q.q.qtype))
    else:
        qn, qt = "-", "-"
    return q, {"qname": qn, "qtype": qt, "id": q.header.id, "rd": q.header.rd,
               "edns": int(any(r.rtype == QTYPE.OPT for r in q.ar))}


def resolved(q, args):
    """What a recursive resolver would say: RA, NOERROR, a record of the asked type."""
    r = q.reply(ra=1, aa=0)
    r.header.rcode = RCODE.NOERROR
    r.ar = []
    qn, qt = q.q.qname, q.q.qtype
    if qt == QTYPE.A:
        r.add_answer(RR(qn, QTYPE.A, rdata=A(args.answer), ttl=300))
    elif qt == QTYPE.AAAA:
        r.add_answer(RR(qn, QTYPE.AAAA, rdata=AAAA(args.answer6), ttl=300))
    elif qt == QTYPE.NS:
        r.add_answer(RR(qn, QTYPE.NS, rdata=NS("ns.example.test."), ttl=300))
    if any(x.rtype == QTYPE.OPT for x in q.ar):
        r.add_ar(EDNS0(udp_len=1232))
    return r.pack()


def answer(mode, q, proto="udp", args=None):
    """The bytes to send back for query q over proto (None: say nothing)."""
    if mode == "garbled-udp":
        if proto == "tcp" and q is not None and q.questions:
            return resolved(q, args)
        mode = "wrong-id"
    if mode == "silent":
        return None
    if mode == "garbage":
        return GARBAGE
    if q is None:
        # Not DNS: answer FORMERR with id 0 so the sender sees something came back.
        return struct.pack("!HHHHHH", 0, 0x8001, 0, 0, 0, 0)
    r = q.reply(ra=0, aa=0)
    r.header.rcode = RCODE.NOERROR
    r.ar = []
    if any(x.rtype == QTYPE.OPT for x in q.ar):
        r.add_ar(EDNS0(udp_len=1232))
    if mode == "wrong-id":
        r.header.id = (q.header.id + 1) & 0xFFFF
    elif mode == "wrong-question":
        r.questions = [DNSQuestion("wrong.example.test.", QTYPE.A)]
    return r.pack()


def tcp_conn(conn, peer, args, log, sem):
    try:
        conn.settimeout(TCP_IDLE)
        log.write("tcp", "connect", peer)
        buf = b""
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = conn.recv(65535)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 2:
                n = struct.unpack("!H", buf[:2])[0]
                if len(buf) < 2 + n:
                    break
                msg, buf = buf[2:2 + n], buf[2 + n:]
                q, fields = decode(msg)
                log.write("tcp", "query", peer, **fields)
                if args.mode == "late":
                    stop.wait(args.delay)
                out = answer(args.mode, q, "tcp", args)
                if out is not None:
                    try:
                        conn.sendall(struct.pack("!H", len(out)) + out)
                    except OSError:
                        return
    finally:
        conn.close()
        sem.release()


def checksum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def forge_port_unreachable(raw, addr, port, peer, query):
    """ICMP type 3 code 3 to PEER quoting the query's IPv4 and UDP headers and its first
    8 octets (RFC 792), from ADDR (the raw socket is bound there)."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + len(query), 0, 0x4000, 64,
                     socket.IPPROTO_UDP, 0, socket.inet_aton(peer[0]), socket.inet_aton(addr))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    quoted = ip + struct.pack("!HHHH", peer[1], port, 8 + len(query), 0) + query[:8]
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    icmp = icmp[:2] + struct.pack("!H", checksum(icmp)) + icmp[4:]
    raw.sendto(icmp, (peer[0], 0))


def main():
    args = parse_args()
    log = Log(args.log, args.mode)
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    udp = tcp = None
    if args.proto in ("udp", "both"):
        udp = socket.socket(fam, socket.SOCK_DGRAM)
        udp.bind((args.addr, args.port))
        udp.setblocking(False)
    if args.proto in ("tcp", "both"):
        tcp = socket.socket(fam, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((args.addr, args.port))
        tcp.listen(64)
        tcp.setblocking(False)

    raw = None
    if args.forge_icmp is not None:
        if fam != socket.AF_INET:
            raise SystemExit("responder: --forge-icmp is IPv4 only")
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        raw.bind((args.addr, 0))

    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    tmp = args.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, args.pidfile)

    pending = []            # heap of (due, seq, bytes, peer): late UDP replies
    seq = 0
    sem = threading.BoundedSemaphore(MAX_TCP_THREADS)
    end = time.monotonic() + args.max_runtime
    socks = [s for s in (udp, tcp) if s is not None]
    try:
        while not stop.is_set() and time.monotonic() < end:
            now = time.monotonic()
            wait = 0.2
            if pending:
                wait = max(0.0, min(wait, pending[0][0] - now))
            try:
                readable, _, _ = select.select(socks, [], [], wait)
            except InterruptedError:
                continue
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                _, _, out, peer = heapq.heappop(pending)
                try:
                    udp.sendto(out, peer)
                except OSError:
                    pass
            if udp in readable:
                for _ in range(64):     # drain, bounded
                    try:
                        data, peer = udp.recvfrom(65535)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:     # e.g. a queued ICMP error for an earlier reply
                        continue
                    q, fields = decode(data)
                    log.write("udp", "query", peer, **fields)
                    out = answer(args.mode, q, "udp", args)
                    if out is None:
                        continue
                    forge = raw is not None and os.path.exists(args.forge_icmp)
                    if forge:
                        forge_port_unreachable(raw, args.addr, args.port, peer, data)
                        log.write("udp", "icmp-forged", peer)
                    if args.mode == "late" or forge:
                        seq += 1
                        heapq.heappush(pending, (now + args.delay, seq, out, peer))
                    else:
                        try:
                            udp.sendto(out, peer)
                        except OSError:
                            pass
            if tcp is not None and tcp in readable:
                try:
                    conn, peer = tcp.accept()
                except (BlockingIOError, InterruptedError, OSError):
                    continue
                if not sem.acquire(blocking=False):
                    conn.close()
                    continue
                conn.setblocking(True)
                threading.Thread(target=tcp_conn, args=(conn, peer, args, log, sem),
                                 daemon=True).start()
    finally:
        stop.set()
        for s in socks:
            s.close()
        if raw is not None:
            raw.close()
        try:
            os.unlink(args.pidfile)
        except OSError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
