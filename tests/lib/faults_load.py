#!/usr/bin/python3
"""tests/lib/faults_load.py - a steady stream of API requests for fault tests.

  faults_load.py run URL TOKEN LOG STOPFILE [THREADS]
      THREADS (default 3) threads, each sending in turn GET /v1/me (auth),
      GET /v1/businesses (tenant), POST /v1/businesses (tenant) and POST
      /v1/usage/events (usage) with TOKEN, until STOPFILE exists. Every
      response is one JSON line of LOG: {"kind", "status" (0: no response),
      "retry_after", "code" (error code or null), "json" (the body parsed as
      JSON), "id" (the business id of a 201, the event id sent), "ms",
      "at" (seconds since start)}.
  faults_load.py summary LOG [FROM TO STATUS]
      prints "STATUS COUNT" lines, then "bad: N" (responses that break the
      fault contract: anything but 2xx or 503 with Retry-After and a JSON
      error body; in lines FROM to TO - 1 also STATUS with a JSON error
      body), then up to five of them.
  faults_load.py ids LOG KIND
      the ids of KIND's 2xx responses ("business" or "event"), one a line.
  faults_load.py seen LOG FROM WHAT
      exit 0 when every kind of request got a WHAT response ("2xx" or a
      status such as "503") in the lines of LOG after the first FROM.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

KINDS = ("me", "list", "business", "event")


def request(conn, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.getheader("Retry-After"), resp.read()


def worker(url, token, log, stopfile, n, lock, start):
    parts = urllib.parse.urlsplit(url)
    conn = None
    seq = 0
    while not os.path.exists(stopfile):
        kind = KINDS[seq % len(KINDS)]
        seq += 1
        tag = "%d-%d-%d" % (os.getpid(), n, seq)
        ident = None
        if kind == "me":
            method, path, body = "GET", "/v1/me", None
        elif kind == "list":
            method, path, body = "GET", "/v1/businesses?limit=5", None
        elif kind == "business":
            method, path = "POST", "/v1/businesses"
            body = {"name": "Fault " + tag, "phone_number": "+3314%07d" % (seq % 10000000),
                    "timezone": "Europe/Paris"}
        else:
            method, path = "POST", "/v1/usage/events"
            ident = "fault-" + tag
            body = {"events": [{"id": ident, "metric": "sms", "quantity": 1,
                                "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}]}
        began = time.monotonic()
        status, retry, raw = 0, None, b""
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            status, retry, raw = request(conn, method, path, token, body)
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
        parsed = None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        code = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            code = parsed["error"].get("code")
        if kind == "business" and status == 201 and isinstance(parsed, dict):
            ident = parsed.get("id")
        line = {"kind": kind, "status": status, "retry_after": retry, "code": code,
                "json": parsed is not None, "id": ident,
                "ms": int((time.monotonic() - began) * 1000),
                "at": round(began - start, 3)}
        with lock:
            log.write(json.dumps(line) + "\n")
            log.flush()
        if status == 503 or status == 0:
            time.sleep(0.05)


def run(url, token, path, stopfile, threads):
    lock = threading.Lock()
    start = time.monotonic()
    with open(path, "a") as log:
        pool = [threading.Thread(target=worker, args=(url, token, log, stopfile, n, lock, start))
                for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()


def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def bad(line, extra=None):
    if 200 <= line["status"] < 300:
        return False
    if line["status"] == extra:
        return not (line["json"] and line["code"])
    if line["status"] != 503:
        return True
    retry = line["retry_after"] or ""
    return not (retry.isdigit() and int(retry) > 0 and line["json"] and line["code"])


def summary(path, start=0, end=0, extra=None):
    rows = lines(path)
    counts = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    for status in sorted(counts):
        print("%d %d" % (status, counts[status]))
    wrong = [row for n, row in enumerate(rows) if bad(row, extra if start <= n < end else None)]
    print("bad: %d" % len(wrong))
    for row in wrong[:5]:
        print(json.dumps(row))


def ids(path, kind):
    for row in lines(path):
        if row["kind"] == kind and 200 <= row["status"] < 300 and row["id"]:
            print(row["id"])


def seen(path, start, what):
    kinds = set()
    for row in lines(path)[start:]:
        if (200 <= row["status"] < 300) if what == "2xx" else str(row["status"]) == what:
            kinds.add(row["kind"])
    return kinds >= set(KINDS)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "run" and len(sys.argv) in (6, 7):
        run(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
            int(sys.argv[6]) if len(sys.argv) == 7 else 3)
    elif cmd == "summary" and len(sys.argv) == 3:
        summary(sys.argv[2])
    elif cmd == "summary" and len(sys.argv) == 6:
        summary(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif cmd == "ids" and len(sys.argv) == 4:
        ids(sys.argv[2], sys.argv[3])
    elif cmd == "seen" and len(sys.argv) == 5:
        sys.exit(0 if seen(sys.argv[2], int(sys.argv[3]), sys.argv[4]) else 1)
    else:
        sys.exit(__doc__)
