#!/usr/bin/python3
# A stand-in for systemd's notify socket, for daemon.int: bind a unix datagram socket (a path,
# or "@name" in the abstract namespace) and append every datagram to LOG as one line, with
# its newlines shown as "|" and a time stamp:  "1700000000.123 READY=1|STATUS=started".
#
#   notifylisten.py SOCKET LOG [--max-runtime SECS]
#
# Ready means LOG exists (created after the bind).  Exits on SIGTERM/SIGINT or after
# --max-runtime seconds (default 300).  Standard library only.

import argparse
import os
import signal
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("socket")
    p.add_argument("log")
    p.add_argument("--max-runtime", type=float, default=300.0)
    a = p.parse_args()
    name = a.socket
    addr = "\0" + name[1:] if name.startswith("@") else name
    if not name.startswith("@") and os.path.exists(name):
        os.unlink(name)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(addr)
    if not name.startswith("@"):
        os.chmod(name, 0o666)   # a daemon that dropped to another user may send too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    deadline = time.time() + a.max_runtime
    with open(a.log, "a", buffering=1) as log:
        while time.time() < deadline:
            s.settimeout(max(0.1, deadline - time.time()))
            try:
                data = s.recv(4096)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace").replace("\n", "|")
            log.write("%.3f %s\n" % (time.time(), text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
