#!/usr/bin/python3
"""make-passive-corpus: seed corpus for fuzz_passive (deterministic, stdlib only).

Each file is a sequence of records: link type (1 octet, packet.h's enum pkt_link), frame
length (2 octets, big-endian), frame. Rerunning rewrites the same bytes.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "passive")
ETHERNET, SLL, SLL2, NULL, LOOP, RAW, IPV4, IPV6 = 1, 2, 3, 4, 5, 6, 7, 8
V4A, V4B = bytes([192, 0, 2, 53]), bytes([192, 0, 2, 7])
V6A, V6B = bytes.fromhex("20010db8" + "0" * 22 + "53"), bytes.fromhex("20010db8" + "0" * 22 + "07")


def dns_response(ra=True):
    q = b"\x03www\x07example\x04test\x00" + struct.pack(">HH", 1, 1)
    return struct.pack(">HHHHHH", 0x1234, 0x8180 if ra else 0x8500, 1, 0, 0, 0) + q


def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, flags, seq, ack, payload=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(src, dst, proto, l4, frag=0x4000):
    return struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(l4), 1, frag, 64, proto, 0) + src + dst + l4


def ipv6(src, dst, nh, l4, ext=b""):
    return struct.pack(">IHBB", 0x60000000, len(ext) + len(l4), nh, 64) + src + dst + ext + l4


def ether(payload, etype):
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02" + struct.pack(">H", etype) + payload


def rec(link, frame):
    return bytes([link]) + struct.pack(">H", len(frame)) + frame


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    d = dns_response()
    seeds["udp-v4-ether"] = rec(ETHERNET, ether(ipv4(V4A, V4B, 17, udp(53, 4000, d)), 0x0800))
    seeds["udp-v6-sll2"] = rec(SLL2, struct.pack(">HHIHBB", 0x86dd, 0, 1, 772, 0, 6) + b"\0" * 8
                               + ipv6(V6A, V6B, 17, udp(53, 4000, d)))
    hbh = bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([17, 0, 1, 4, 0, 0, 0, 0])
    seeds["udp-v6-ext"] = rec(ETHERNET, ether(ipv6(V6A, V6B, 0, udp(53, 4000, d), hbh), 0x86dd))
    seeds["handshake"] = (rec(RAW, ipv4(V4A, V4B, 6, tcp(53, 4000, 0x12, 1000, 501)))
                          + rec(RAW, ipv4(V4B, V4A, 6, tcp(4000, 53, 0x10, 501, 1001))))
    seeds["tcp-dns"] = rec(LOOP, struct.pack(">I", 2) + ipv4(
        V4A, V4B, 6, tcp(53, 4000, 0x18, 1, 1, struct.pack(">H", len(d)) + d)))
    quote = ipv4(V4B, V4A, 6, tcp(40000, 53, 0x02, 0xdeadbeef, 0))[:28]
    seeds["icmp-quote"] = rec(NULL, b"\x02\0\0\0" + ipv4(bytes([192, 0, 2, 1]), V4B, 1,
                                                          bytes([3, 13, 0, 0, 0, 0, 0, 0]) + quote))
    seeds["vlan-fragment"] = rec(ETHERNET, b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x81\x00\x00\x64"
                                 + struct.pack(">H", 0x0800)
                                 + ipv4(V4A, V4B, 17, udp(53, 4000, d), frag=0x2000))
    seeds["sll-garbage"] = rec(SLL, b"\0\0\x03\x04\0\x06" + b"\0" * 8 + b"\x08\x00"
                               + ipv4(V4A, V4B, 17, udp(53, 4000, b"\xab" * 30)))
    for name, data in seeds.items():
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
