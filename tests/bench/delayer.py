#!/usr/bin/python3
# Delay every packet sent to the testbed's "slow-open" addresses by --delay-ms, TCP handshake
# included, without tc netem (many kernels, e.g. minimal VM kernels, ship no sch_netem).
#
# How (all inside the benchmark's own network namespace, on lo):
#   1. nftables, output hook: a packet to an address in the @slow set, port 53, whose mark is not
#      REINJECT_MARK, gets mark CAPTURE_MARK.
#   2. nftables, input hook: a packet with CAPTURE_MARK is dropped (the original never arrives).
#   3. this process reads a copy of every CAPTURE_MARK packet from an AF_PACKET socket on lo
#      (a classic BPF filter on skb mark + "outgoing" so nothing else is copied to user space),
#      holds it for --delay-ms, fixes the transport checksum (lo leaves it to "hardware"), and
#      sends it again through a raw IP socket with SO_MARK = REINJECT_MARK, which step 1 leaves
#      alone and step 2 lets through.
# The effect is netem's: every packet towards a slow address arrives --delay-ms late; replies are
# not delayed, so a probe's round trip is --delay-ms plus a little.
#
# The pidfile is written once the capture socket is bound (= ready).  SIGTERM/SIGINT: stop, print
# counters to stderr, exit 0.  SIGUSR1: print the counters and reset them (the bench does it around
# each timed run).  --max-runtime and --max-queue bound it in any case.

import argparse
import ctypes
import heapq
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003    # outgoing copies are handed to ETH_P_ALL taps only
SO_ATTACH_FILTER = 26
SO_MARK = 36
SO_RCVBUFFORCE = 33
PACKET_OUTGOING = 4
SKF_AD_OFF = -0x1000
SKF_AD_PKTTYPE = 4
SKF_AD_MARK = 20

NAME = "delayer"
stop = False
stats = {"captured": 0, "reinjected": 0, "send_errors": 0, "queue_full": 0, "max_queue": 0,
         "late_ms_max": 0}


def bpf_filter(mark):
    """cBPF: accept (whole packet) iff skb->mark == mark and pkttype == PACKET_OUTGOING."""
    def ins(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)
    prog = b"".join([
        ins(0x20, 0, 0, SKF_AD_OFF + SKF_AD_MARK),      # ld  mark
        ins(0x15, 0, 3, mark),                          # jeq #mark, next, drop
        ins(0x20, 0, 0, SKF_AD_OFF + SKF_AD_PKTTYPE),   # ld  pkttype
        ins(0x15, 0, 1, PACKET_OUTGOING),               # jeq #outgoing, next, drop
        ins(0x06, 0, 0, 0x40000),                       # ret #262144 (all of it)
        ins(0x06, 0, 0, 0),                             # drop: ret #0
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("HL", len(prog) // 8, ctypes.addressof(buf))
    return buf, fprog           # keep buf alive while the kernel copies it


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def fix_checksum(pkt):
    """The packet with a valid TCP checksum / no UDP checksum (None: not IPv4 TCP/UDP)."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    pkt = bytearray(pkt[:total])
    proto = pkt[9]
    seg = pkt[ihl:]
    if proto == 6 and len(seg) >= 20:
        seg[16:18] = b"\0\0"
        pseudo = bytes(pkt[12:20]) + struct.pack("!BBH", 0, 6, len(seg))
        seg[16:18] = struct.pack("!H", csum(pseudo + bytes(seg)))
    elif proto == 17 and len(seg) >= 8:
        seg[6:8] = b"\0\0"      # IPv4 UDP: checksum 0 = none
    else:
        return None
    return bytes(pkt[:ihl]) + bytes(seg)


def report(signum=None, frame=None):
    """Print the counters (on SIGUSR1: then restart them from zero, for the next run)."""
    print(NAME + ": " + " ".join("%s=%d" % kv for kv in stats.items()),
          file=sys.stderr, flush=True)
    if signum is not None:
        for k in stats:
            stats[k] = 0


def main():
    global stop
    p = argparse.ArgumentParser(description="delay marked packets on lo (netem substitute)")
    p.add_argument("--delay-ms", type=float, required=True)
    p.add_argument("--capture-mark", type=lambda s: int(s, 0), default=0x5301)
    p.add_argument("--reinject-mark", type=lambda s: int(s, 0), default=0x5302)
    p.add_argument("--ifname", default="lo")
    p.add_argument("--pidfile", required=True)
    p.add_argument("--max-queue", type=int, default=500000)
    p.add_argument("--max-runtime", type=float, default=7200.0)
    a = p.parse_args()
    if not 0 <= a.delay_ms <= 10000:
        p.error("--delay-ms must be within 0..10000")
    delay = a.delay_ms / 1000.0

    # Protocol 0: receives nothing until bind(), so the filter is in place before any packet.
    cap = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, 0)
    keep, fprog = bpf_filter(a.capture_mark)
    cap.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    del keep
    try:
        cap.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        pass
    cap.bind((a.ifname, ETH_P_ALL))
    cap.setblocking(False)

    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    out.setsockopt(socket.SOL_SOCKET, SO_MARK, a.reinject_mark)

    def on_signal(signum, frame):
        global stop
        stop = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR1, report)

    tmp = a.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, a.pidfile)

    heap = []                   # (due, seq, packet)
    seq = 0
    end = time.monotonic() + a.max_runtime
    try:
        while not stop and time.monotonic() < end:
            now = time.monotonic()
            wait = 0.5
            if heap:
                wait = max(0.0, min(wait, heap[0][0] - now))
            try:
                r, _, _ = select.select([cap], [], [], wait)
            except InterruptedError:
                continue
            if r:
                for _ in range(4096):
                    try:
                        pkt, addr = cap.recvfrom(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    if addr[2] != PACKET_OUTGOING:
                        continue
                    stats["captured"] += 1
                    if len(heap) >= a.max_queue:
                        stats["queue_full"] += 1
                        continue
                    seq += 1
                    heapq.heappush(heap, (time.monotonic() + delay, seq, pkt))
                stats["max_queue"] = max(stats["max_queue"], len(heap))
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                due, _, pkt = heapq.heappop(heap)
                late = int((now - due) * 1000)
                if late > stats["late_ms_max"]:
                    stats["late_ms_max"] = late
                fixed = fix_checksum(pkt)
                if fixed is None:
                    continue
                dst = socket.inet_ntoa(fixed[16:20])
                try:
                    out.sendto(fixed, (dst, 0))
                    stats["reinjected"] += 1
                except OSError:
                    stats["send_errors"] += 1
    finally:
        cap.close()
        out.close()
        try:
            os.unlink(a.pidfile)
        except OSError:
            pass
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
