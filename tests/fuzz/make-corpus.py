#!/usr/bin/python3
"""make-corpus: write the seed corpus for fuzz_dns (deterministic, stdlib only).

Run from anywhere: /usr/bin/python3 tests/fuzz/make-corpus.py
The generated files are kept in the tree; rerunning rewrites the same bytes.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "dns")


def name(text):
    """Uncompressed wire form of a dotted name (no escapes needed here)."""
    wire = b""
    for label in text.strip(".").split("."):
        if label:
            wire += bytes([len(label)]) + label.encode()
    return wire + b"\x00"


def header(flags, qd=1, an=0, ns=0, ar=0, ident=0x1234):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def question(qname, qtype, qclass=1):
    return name(qname) + struct.pack(">HH", qtype, qclass)


def rr(owner, rtype, rclass, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


PTR_QNAME = b"\xc0\x0c"  # the question name always starts at offset 12
RESP = 0x8180  # QR RD RA


def opt(udp=1232, ext_rcode=0, do=False, options=b""):
    ttl = ext_rcode << 24 | (0x8000 if do else 0)
    return rr(b"\x00", 41, udp, ttl, options)


def seeds():
    q = question("example.test", 1)
    yield "a-compressed", header(RESP, an=1) + q + rr(PTR_QNAME, 1, 1, 300, bytes([192, 0, 2, 1]))

    soa = (b"\x03ns1" + PTR_QNAME + b"\x0ahostmaster" + PTR_QNAME +
           struct.pack(">IIIII", 1, 7200, 3600, 1209600, 300))
    yield "nodata-soa", header(RESP, ns=1) + q + rr(PTR_QNAME, 6, 1, 3600, soa)

    yield "txt-version-bind", (header(0x8400, an=1) + question("version.bind", 16, 3) +
                               rr(PTR_QNAME, 16, 3, 0, b"\x049.18\x02.1"))

    yield "aaaa", (header(RESP, an=1) + question("example.test", 28) +
                   rr(PTR_QNAME, 28, 1, 300, bytes.fromhex("20010db8000000000000000000000001")))

    # CNAME at offset 30 whose target (offset 42) is reused by the A owner
    yield "cname-a", (header(RESP, an=2) + q + rr(PTR_QNAME, 5, 1, 60, b"\x03www" + PTR_QNAME) +
                      rr(b"\xc0\x2a", 1, 1, 60, bytes([192, 0, 2, 2])))

    nsid = struct.pack(">HH", 3, 4) + b"ns-1"
    yield "a-opt-nsid", (header(RESP, an=1, ar=1) + q +
                         rr(PTR_QNAME, 1, 1, 300, bytes([192, 0, 2, 1])) + opt(do=True, options=nsid))

    yield "refused", header(0x8105) + q

    # unbound's access-control refuse: a bare header, no question (matched by ID alone)
    yield "refused-noquestion", header(0x8185, qd=0)
    yield "servfail-noquestion-opt", header(0x8182, qd=0, ar=1) + opt()
    # malformed: an answer to no question
    yield "bad-noerror-noquestion", header(RESP, qd=0)

    yield "badvers", header(0x8100, ar=1) + q + opt(udp=512, ext_rcode=1)

    # malformed: qname is a pointer to itself
    yield "bad-self-pointer", header(RESP) + b"\xc0\x0c" + struct.pack(">HH", 1, 1)

    # malformed: two-pointer cycle (RDATA at 42 -> 44, owner at 44 -> 42)
    yield "bad-cycle", (header(RESP, an=2) + q + rr(PTR_QNAME, 0xff00, 1, 0, b"\xc0\x2c") +
                        rr(b"\xc0\x2a", 1, 1, 0, bytes(4)))

    # malformed: ancount says 5, one RR present
    yield "bad-lying-count", header(RESP, an=5) + q + rr(PTR_QNAME, 1, 1, 300, bytes(4))


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname, data in seeds():
        with open(os.path.join(OUT, fname), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
