#!/usr/bin/python3
# An off-path spoofer for watch53's integration tests: it forges the probed server's address as
# the source of junk datagrams, the way an attacker who cannot see our queries would try to
# make a firewalled port 53 look open.  Only ever run inside the test's own network namespace,
# only towards addresses of that namespace (127.0.0.0/8).
#
#   spoofer.py spray --src ADDR --sport N --dst ADDR --ports LO-HI --pidfile F --log F
#                    [--max-sweeps N] [--max-seconds S]
#       Send one 1-octet UDP datagram from SRC:SPORT (forged: a raw IPv4 socket writes the
#       header itself, nothing is bound to SRC:SPORT) to DST:P for every P in LO..HI, sweep
#       after sweep, until SIGTERM or a bound (sweeps, seconds) is reached.  The pidfile is
#       written once the raw socket is open (ready).  The log gets one line per sweep and a
#       last "done" line: sweeps=N packets=N seconds=S.
#   spoofer.py catch --peer ADDR:PORT [--timeout S]
#       Connect a UDP socket to PEER (as watch53's UDP probe does) and wait for one datagram:
#       prints "caught len=N from=ADDR:PORT" (exit 0) or "caught nothing" (exit 1).  The proof
#       that the spray reaches a probe's socket at all.
#
# Standard library only; needs CAP_NET_RAW (the tests run as root).  Run with /usr/bin/python3.

import argparse
import os
import signal
import socket
import struct
import sys
import time

MAX_SWEEPS = 1000       # hard bounds, whatever the options say
MAX_SECONDS = 120.0

stop = False


def on_signal(signum, frame):
    global stop
    stop = True


def loopback(addr):
    a = socket.inet_aton(addr)
    if a[0] != 127:
        raise SystemExit("spoofer: refusing non-loopback address %s" % addr)
    return a


def datagram(src, dst, sport, dport):
    """IPv4 header (the kernel fills in the checksum and the total length) + UDP + 1 octet.
    UDP checksum 0: none, which IPv4 allows."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + 1, 0, 0, 64, socket.IPPROTO_UDP, 0,
                     src, dst)
    udp = struct.pack("!HHHH", sport, dport, 8 + 1, 0)
    return ip + udp + b"\x00"


def spray(a):
    src, dst = loopback(a.src), loopback(a.dst)
    lo, hi = (int(x) for x in a.ports.split("-", 1))
    if not 1 <= lo <= hi <= 65535:
        raise SystemExit("spoofer: bad port range %s" % a.ports)
    sweeps_max = min(a.max_sweeps, MAX_SWEEPS)
    end = time.monotonic() + min(a.max_seconds, MAX_SECONDS)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    pkts = [datagram(src, dst, a.sport, p) for p in range(lo, hi + 1)]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tmp = a.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, a.pidfile)
    t0 = time.monotonic()
    sent = sweeps = 0
    with open(a.log, "a", buffering=1) as log:
        while not stop and sweeps < sweeps_max and time.monotonic() < end:
            for p in pkts:
                try:
                    s.sendto(p, (a.dst, 0))
                    sent += 1
                except OSError:     # e.g. ENOBUFS under load: the next sweep tries again
                    pass
                if stop:
                    break
            sweeps += 1
            log.write("sweep=%d packets=%d t=%.3f\n" % (sweeps, sent, time.monotonic() - t0))
        log.write("done sweeps=%d packets=%d seconds=%.2f\n"
                  % (sweeps, sent, time.monotonic() - t0))
    s.close()
    try:
        os.unlink(a.pidfile)
    except OSError:
        pass
    return 0


def catch(a):
    host, port = a.peer.rsplit(":", 1)
    loopback(host)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, int(port)))
    s.settimeout(min(a.timeout, 30.0))
    try:
        data, peer = s.recvfrom(65535)
    except (socket.timeout, OSError):
        print("caught nothing")
        return 1
    print("caught len=%d from=%s:%d" % (len(data), peer[0], peer[1]))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("spray")
    sp.add_argument("--src", required=True)
    sp.add_argument("--sport", type=int, default=53)
    sp.add_argument("--dst", required=True)
    sp.add_argument("--ports", default="32768-60999")
    sp.add_argument("--max-sweeps", type=int, default=200)
    sp.add_argument("--max-seconds", type=float, default=60.0)
    sp.add_argument("--pidfile", required=True)
    sp.add_argument("--log", required=True)
    cp = sub.add_parser("catch")
    cp.add_argument("--peer", required=True)
    cp.add_argument("--timeout", type=float, default=3.0)
    a = p.parse_args()
    return spray(a) if a.cmd == "spray" else catch(a)


if __name__ == "__main__":
    sys.exit(main())
