#!/usr/bin/python3
# A scripted HTTP/HTTPS webhook receiver for watch53's alert delivery tests.
#
#   receiver.py --listen ADDR:PORT[/tls] [--listen ...] [--cert PEM --key PEM]
#               [--secret whsec_... | --secret-file FILE] [--script [PATH=]SCRIPT]...
#               [--delay-ms N] --log FILE.jsonl --pidfile FILE [--max-runtime SECS]
#
# Network safety: it only binds loopback addresses (127.0.0.0/8, ::1) and refuses any other;
# it never connects anywhere.  It exits by itself after --max-runtime seconds (default 600),
# on SIGTERM or SIGINT (removing its pidfile).  The pidfile is written after every socket is
# bound, so "pidfile exists" means ready.
#
# SCRIPT: the responses to successive requests, comma-separated, one entry each:
#   CODE              answer with that status (200, 500, 404, ...)
#   429:N / 503:N     that status with "Retry-After: N"
#   301:URL (302..308) a redirect to URL (Location header)
#   hang:N            sleep N seconds before answering 200, then close the connection (longer
#                     than the client's timeout: the client gives up first)
#   ENTRY*            repeat ENTRY forever (e.g. 200*)
#   ENTRYxK           ENTRY K times (e.g. 500x5)
# When a script runs out, its last entry repeats.  --script PATH=SCRIPT applies to requests
# for that path only (each path has its own position); a plain SCRIPT is the default for every
# other path.  Without any script: 200*.
#
# --secret: every POST must carry a valid Standard Webhooks signature (webhook-id,
# webhook-timestamp within 5 minutes, webhook-signature "v1,<base64 HMAC-SHA256 of
# id.timestamp.body>" keyed with base64-decode(part after "whsec_")); otherwise it is answered
# 401 (no script entry is used) and logged with "sig_ok": false.
#
# --delay-ms N: every scripted answer waits N ms first (slow but healthy receiver).
#
# The log gets one JSON object a line, written (and flushed) when the answer is decided,
# i.e. before it is sent:
#   {"n":1,"time":1700000000.123,"listener":"127.0.0.1:8443/tls","client":"127.0.0.1:40000",
#    "method":"POST","path":"/w53","headers":{...lower-case names...},"body":"...",
#    "body_b64":"<the body's exact bytes, base64: "body" replaces ill-formed UTF-8>",
#    "json":{...} or null,"event_id":"..." or null,"webhook_id":...,"sig_ok":true|false|null,
#    "sig_error":null|"why","status":200,"action":"200","retry_after":null,"location":null}
# and a line {"tls_error": "...", "time":..., "listener":..., "client":...} for a TLS handshake
# that failed (e.g. the client refused our certificate).
#
# Standard library only; run it with /usr/bin/python3.

import argparse
import base64
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import signal
import socket
import socketserver
import ssl
import sys
import threading
import time

TOLERANCE = 300          # seconds of webhook-timestamp skew accepted (Standard Webhooks)
MAX_BODY = 1 << 20
CONN_TIMEOUT = 15.0      # an idle or stuck connection is dropped after this

stop = threading.Event()
log_lock = threading.Lock()
script_lock = threading.Lock()
counter = [0]


class Script:
    """The answers for successive requests."""

    def __init__(self, text):
        self.entries = []        # (entry, count or None for forever)
        for raw in [e.strip() for e in text.split(",") if e.strip()]:
            if raw.endswith("*"):
                self.entries.append((self.parse(raw[:-1]), None))
            elif ("x" in raw and raw.rsplit("x", 1)[1].isdigit() and "://" not in raw
                  and not raw.startswith("hang")):
                ent, k = raw.rsplit("x", 1)
                self.entries.append((self.parse(ent), int(k)))
            else:
                self.entries.append((self.parse(raw), 1))
        if not self.entries:
            raise ValueError("empty script")
        self.pos = 0
        self.used = 0

    @staticmethod
    def parse(e):
        if e.startswith("hang:"):
            return ("hang", float(e[5:]), None)
        if ":" in e:
            code, arg = e.split(":", 1)
            code = int(code)
            if code in (301, 302, 303, 307, 308):
                return ("redirect", code, arg)
            if code in (429, 503):
                return ("retry", code, int(arg))
            raise ValueError("entry %r: only 3xx:URL, 429:N, 503:N take an argument" % e)
        code = int(e)
        if not 100 <= code <= 599:
            raise ValueError("entry %r: not an HTTP status" % e)
        return ("status", code, None)

    def next(self):
        with script_lock:
            ent, count = self.entries[self.pos]
            self.used += 1
            if count is not None and self.used >= count and self.pos + 1 < len(self.entries):
                self.pos += 1
                self.used = 0
            return ent


def log(obj):
    with log_lock:
        counter[0] += 1
        obj = dict(obj, n=counter[0])
        ARGS.logf.write(json.dumps(obj, sort_keys=True) + "\n")
        ARGS.logf.flush()


def verify(secret, headers, body):
    """(ok, why) for the Standard Webhooks signature of one request."""
    wid = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sig = headers.get("webhook-signature")
    if not wid or not ts or not sig:
        return False, "missing webhook-id/-timestamp/-signature"
    try:
        t = int(ts)
    except ValueError:
        return False, "webhook-timestamp %r is not an integer" % ts
    if abs(time.time() - t) > TOLERANCE:
        return False, "webhook-timestamp %d is %ds off" % (t, int(time.time() - t))
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    want = base64.b64encode(hmac.new(key, b"%s.%s." % (wid.encode(), ts.encode()) + body,
                                     hashlib.sha256).digest()).decode()
    for part in sig.split(" "):
        if part.startswith("v1,") and hmac.compare_digest(part[3:], want):
            return True, None
    return False, "no v1 signature matches"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True      # headers and body are separate writes
    server_version = "w53-receiver"
    sys_version = ""

    def setup(self):
        self.request.settimeout(CONN_TIMEOUT)
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                log({"time": time.time(), "listener": self.server.tag,
                     "client": "%s:%s" % self.client_address[:2], "tls_error": str(e)})
                raise
        super().setup()

    def log_message(self, fmt, *a):      # quiet: the JSON log says it all
        pass

    def answer(self, status, extra=(), body=b"", close=False):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(n, MAX_BODY)) if n > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            obj = json.loads(body)
        except ValueError:
            obj = None
        rec = {"time": time.time(), "listener": self.server.tag,
               "client": "%s:%s" % self.client_address[:2], "method": self.command,
               "path": self.path, "headers": headers, "body": body.decode("utf-8", "replace"),
               "body_b64": base64.b64encode(body).decode("ascii"), "json": obj, "event_id": obj.get("id") if isinstance(obj, dict) else None,
               "webhook_id": headers.get("webhook-id"), "sig_ok": None, "sig_error": None,
               "retry_after": None, "location": None}
        if ARGS.secret and self.command == "POST":
            rec["sig_ok"], rec["sig_error"] = verify(ARGS.secret, headers, body)
            if not rec["sig_ok"]:
                rec.update(status=401, action="401-bad-signature")
                log(rec)
                self.answer(401, body=b"bad signature\n")
                return
        script = ARGS.scripts.get(self.path.split("?", 1)[0], ARGS.default_script)
        kind, a, b = script.next()
        if kind == "hang":
            rec.update(status=200, action="hang:%g" % a)
            log(rec)
            stop.wait(a)
            self.answer(200, body=b"late\n", close=True)
            return
        if ARGS.delay_ms:
            stop.wait(ARGS.delay_ms / 1000.0)
        if kind == "retry":
            rec.update(status=a, action="%d:%d" % (a, b), retry_after=b)
            log(rec)
            self.answer(a, [("Retry-After", str(b))], b"slow down\n")
        elif kind == "redirect":
            rec.update(status=a, action="%d:%s" % (a, b), location=b)
            log(rec)
            self.answer(a, [("Location", b)], b"moved\n")
        else:
            rec.update(status=a, action=str(a))
            log(rec)
            self.answer(a, body=b"ok\n" if a < 300 else b"error\n")

    do_POST = do_GET = do_PUT = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, port, tls_ctx, tag):
        self.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.tls_ctx = tls_ctx
        self.tag = tag
        super().__init__((addr, port), Handler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse lookup (socket.getfqdn): no DNS here, ever.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls_ctx is not None:
            # the handshake happens in the handler's thread (setup), not in the accept loop
            sock = self.tls_ctx.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        pass        # client gone, TLS refused (logged), timeouts: nothing to print


def parse_listen(s):
    tls = s.endswith("/tls")
    if tls:
        s = s[:-4]
    host, _, port = s.rpartition(":")
    host = host.strip("[]")
    ip = ipaddress.ip_address(host)
    if not ip.is_loopback:
        raise ValueError("refusing to listen on non-loopback address %s" % host)
    return host, int(port), tls


def main():
    global ARGS
    p = argparse.ArgumentParser(description="scripted webhook receiver (tests only)")
    p.add_argument("--listen", action="append", required=True, help="ADDR:PORT[/tls]")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--secret")
    p.add_argument("--secret-file", help="read --secret from this file (keeps it off ps)")
    p.add_argument("--script", action="append", default=[], help="[PATH=]SCRIPT")
    p.add_argument("--script-file", help="a file holding one [PATH=]SCRIPT a line")
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--log", required=True)
    p.add_argument("--pidfile", required=True)
    p.add_argument("--max-runtime", type=float, default=600.0)
    ARGS = p.parse_args()

    if ARGS.secret_file:
        with open(ARGS.secret_file, encoding="utf-8") as f:
            ARGS.secret = f.read().strip()
    specs = list(ARGS.script)
    if ARGS.script_file:
        with open(ARGS.script_file, encoding="utf-8") as f:
            specs += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    ARGS.scripts = {}
    ARGS.default_script = Script("200*")
    for spec in specs:
        if spec.startswith("/") and "=" in spec:
            path, text = spec.split("=", 1)
            ARGS.scripts[path] = Script(text)
        else:
            ARGS.default_script = Script(spec)

    listens = [parse_listen(s) for s in ARGS.listen]
    ctx = None
    if any(tls for _, _, tls in listens):
        if not ARGS.cert or not ARGS.key:
            p.error("a /tls listener needs --cert and --key")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)

    ARGS.logf = open(ARGS.log, "a", encoding="utf-8")
    servers = []
    for host, port, tls in listens:
        tag = "%s:%d%s" % (host, port, "/tls" if tls else "")
        servers.append(Server(host, port, ctx if tls else None, tag))
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True).start()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    tmp = ARGS.pidfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(tmp, ARGS.pidfile)

    stop.wait(ARGS.max_runtime)
    stop.set()
    for s in servers:
        s.shutdown()
        s.server_close()
    try:
        os.unlink(ARGS.pidfile)
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
