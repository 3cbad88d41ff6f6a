#!/usr/bin/python3
"""bench/tools/seed.py — seed a running Switchboard through its public API.

  seed.py --base URL --out FILE [--orgs 100] [--businesses 10]
          [--password PW] [--concurrency 4]

For each organization i: POST /v1/auth/signup (bench-org-<i>@bench.example,
the user becomes its admin), POST /v1/api-keys (name "bench"), then
POST /v1/businesses --businesses times with the signup's access token.
Writes FILE, one organization a line, tab-separated (what bench/lua/*.lua
read):

    email  access_token  api_key  business_id,business_id,...

and prints one JSON line of counts, errors and seconds. Exits 1 unless every
organization got its key and all its businesses. Standard library only.
"""
import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

TIMEZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles",
             "Europe/London", "Europe/Paris", "Australia/Sydney"]


class Api:
    """JSON over one keep-alive connection per thread."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.local = threading.local()

    def call(self, method, path, body=None, headers=None):
        h = {"Accept": "application/json"}
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                conn.request(method, path, body=data, headers=h)
                r = conn.getresponse()
                raw = r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                time.sleep(0.2)
                continue
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            return r.status, doc
        raise RuntimeError("unreachable")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--orgs", type=int, default=100)
    p.add_argument("--businesses", type=int, default=10)
    p.add_argument("--password", default="bench-password-123")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--prefix", default="bench-org", help="emails <prefix>-<i>@bench.example")
    a = p.parse_args()

    api = Api(a.base)
    lock = threading.Lock()
    stats = {"orgs": 0, "api_keys": 0, "businesses": 0, "errors": {}}
    rows = [None] * a.orgs

    def error(what, status, doc):
        code = ((doc or {}).get("error") or {}).get("code", "") if isinstance(doc, dict) else ""
        key = f"{what} {status} {code}".strip()
        with lock:
            stats["errors"][key] = stats["errors"].get(key, 0) + 1

    def one(i):
        email = f"{a.prefix}-{i}@bench.example"
        st, doc = api.call("POST", "/v1/auth/signup", {
            "email": email, "password": a.password, "name": f"Bench Admin {i}",
            "organization_name": f"Bench Organization {i}"})
        if st != 201:
            return error("signup", st, doc)
        token = doc["access_token"]
        auth = {"Authorization": "Bearer " + token}
        st, doc = api.call("POST", "/v1/api-keys", {"name": "bench"}, auth)
        if st != 201:
            return error("api-key", st, doc)
        key = doc["key"]
        ids = []
        for b in range(a.businesses):
            st, doc = api.call("POST", "/v1/businesses", {
                "name": f"Bench Business {i}-{b}",
                "phone_number": "+1555%07d" % (i * a.businesses + b),
                "timezone": TIMEZONES[(i + b) % len(TIMEZONES)],
                "greeting": f"Thank you for calling Bench Business {i}-{b}."}, auth)
            if st != 201:
                return error("business", st, doc)
            ids.append(doc["id"])
        rows[i] = "\t".join([email, token, key, ",".join(ids)])
        with lock:
            stats["orgs"] += 1
            stats["api_keys"] += 1
            stats["businesses"] += len(ids)

    started = time.time()
    with ThreadPoolExecutor(a.concurrency) as pool:
        for f in [pool.submit(one, i) for i in range(a.orgs)]:
            f.result()
    stats["seconds"] = round(time.time() - started, 1)
    with open(a.out, "w") as f:
        f.write("".join(r + "\n" for r in rows if r))
    print(json.dumps(stats))
    return 0 if stats["orgs"] == a.orgs else 1


if __name__ == "__main__":
    sys.exit(main())
