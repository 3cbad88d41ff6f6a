#!/usr/bin/python3
"""webhook_receiver.py PORT — an HTTP server that receives webhooks, verifies
each one independently of Switchboard's code and records it.

For the integration tests (t205x). It listens on 127.0.0.1:PORT (0 = any free
port) and prints the port as the first line of stdout. Written from the
Standard Webhooks specification, not from our C: a message's signature is
"v1," + base64(HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>"))
where key is the base64 decoding of the secret after "whsec_"; the header
webhook-signature holds one or more such entries separated by spaces, and a
message is authentic when any entry matches one of the receiver's secrets
(constant-time comparison), with a timestamp within 5 minutes of now.

Endpoints (NAME: letters, digits, '-' and '_'):
  POST /secrets/NAME   body {"secrets": ["whsec_...", ...]}: the secrets of
                       endpoint NAME (replacing any before)
  POST /hook/NAME/SCRIPT  a webhook. SCRIPT is a comma-separated list of
                       answers, one per request to this path, the last
                       repeated: a status code ("200", "500", "410"), "302"
                       (a redirect to /target), "ra<N>" (503 with
                       Retry-After: N) or "hang" (no answer for 60 s).
                       Every request is verified and recorded.
  POST /target         a redirect's target: recorded as NAME "target"
  GET /log             every record so far, as a JSON array, in order
  GET /open/NAME       {"open": requests of NAME in progress now,
                        "max": the most that were ever at once}
  GET /vector          verifies the specification's own example with this
                       file's verifier: {"ok": true|false}

A record: {name, seq (per NAME, from 1), answer, id, timestamp, signatures
(entries in the header), verified (entries that match a secret), valid
(verified >= 1, timestamp fresh, body JSON with type, timestamp and data),
body (the parsed JSON or null), at (receive time, unix seconds, float)}.

Python 3 standard library only. SIGTERM is a clean stop (exit status 0).
"""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RECORDS = []
SECRETS = {}
COUNTS = {}
OPEN = {}
MAX_OPEN = {}
STOP = threading.Event()
TOLERANCE = 300


def sign(secret, msg_id, timestamp, body):
    """The signature entry of body (bytes) under secret, per the spec."""
    if not secret.startswith("whsec_"):
        raise ValueError("not a whsec_ secret")
    key = base64.b64decode(secret[len("whsec_"):], validate=True)
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), timestamp.encode(), body),
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secrets, msg_id, timestamp, header, body):
    """(entries, matches): how many signature entries the header carries and
    how many of them match one of secrets."""
    entries = [e for e in (header or "").split(" ") if e]
    matches = 0
    for entry in entries:
        for secret in secrets:
            if hmac.compare_digest(entry.encode(), sign(secret, msg_id, timestamp, body).encode()):
                matches += 1
                break
    return len(entries), matches


def vector_ok():
    return verify(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek",
                  "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                  b'{"test": 2432232314}') == (1, 1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("webhook_receiver: " + (fmt % args) + "\n")

    def answer(self, status, doc=None, headers=()):
        data = json.dumps(doc if doc is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path == "/log":
            with LOCK:
                return self.answer(200, RECORDS)
        m = re.fullmatch(r"/open/([\w-]+)", self.path)
        if m:
            with LOCK:
                return self.answer(200, {"open": OPEN.get(m.group(1), 0),
                                         "max": MAX_OPEN.get(m.group(1), 0)})
        if self.path == "/vector":
            return self.answer(200, {"ok": vector_ok()})
        self.answer(404, {"error": "no such path"})

    def do_POST(self):
        raw = self.body()
        m = re.fullmatch(r"/secrets/([\w-]+)", self.path)
        if m:
            with LOCK:
                SECRETS[m.group(1)] = list(json.loads(raw)["secrets"])
            return self.answer(204)
        m = re.fullmatch(r"/hook/([\w-]+)/([\w,]+)", self.path)
        if m:
            name, script = m.group(1), m.group(2).split(",")
        elif self.path == "/target":
            name, script = "target", ["200"]
        else:
            return self.answer(404, {"error": "no such path"})
        with LOCK:
            seq = COUNTS[self.path] = COUNTS.get(self.path, 0) + 1
            action = script[min(seq, len(script)) - 1]
            secrets = list(SECRETS.get(name, []))
            OPEN[name] = OPEN.get(name, 0) + 1
            MAX_OPEN[name] = max(MAX_OPEN.get(name, 0), OPEN[name])
        try:
            self.record(name, seq, action, secrets, raw)
            if action == "hang":
                STOP.wait(60)
                self.close_connection = True
                return
            if action == "302":
                return self.answer(302, headers=[("Location", "http://127.0.0.1:%d/target"
                                                  % self.server.server_address[1])])
            m = re.fullmatch(r"ra(\d+)", action)
            if m:
                return self.answer(503, headers=[("Retry-After", m.group(1))])
            self.answer(int(action))
        finally:
            with LOCK:
                OPEN[name] -= 1

    def record(self, name, seq, action, secrets, raw):
        msg_id = self.headers.get("webhook-id") or ""
        timestamp = self.headers.get("webhook-timestamp") or ""
        entries, matches = verify(secrets, msg_id, timestamp,
                                  self.headers.get("webhook-signature"), raw)
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= TOLERANCE
        shaped = isinstance(doc, dict) and set(doc) == {"type", "timestamp", "data"}
        with LOCK:
            RECORDS.append({"name": name, "seq": seq, "answer": action, "id": msg_id,
                            "timestamp": timestamp, "signatures": entries, "verified": matches,
                            "valid": matches >= 1 and fresh and shaped, "body": doc,
                            "at": time.time()})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def stop(signum, frame):
        STOP.set()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
