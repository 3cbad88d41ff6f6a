#!/usr/bin/python3
"""bench/soak/load.py — the soak's load generator and its reconciliation.

  load.py setup BASE ORGS_JSON --orgs N --run RUN --receiver URL
                --operator-token T --stripe-secret S --stripe-fake URL
      Makes N organizations through the public API, each: a signup (its
      admin), the plan pro given by the operator (PUT /v1/sys/subscriptions),
      an admin API key, two businesses, a webhook endpoint for call.created
      and order.created pointing at the receiver (URL/hook/org<i>/200, its
      secret registered there), a checkout (billing makes the customer at
      the fake Stripe, URL) and a Stripe checkout.session.completed event
      (signed with S) binding that customer and subscription sub_<RUN>_<i>
      to it. Writes ORGS_JSON.

  load.py run BASE ORGS_JSON LOG STOPFILE --threads T --rate R --run RUN
              --stripe-secret S --price PRICE
      T threads, R requests a second in all (paced), until STOPFILE exists.
      Each request picks an organization in turn and an operation by weight
      (OPS below). Every attempt is one JSON line of LOG:
        {t, org, op, status (0: no answer), ms, code, key, id, attempt,
         final, bad}
      Writes carry an Idempotency-Key (calls, orders, reservations) or
      client event ids (usage events) and are retried with the same key
      while the answer is none, 429, 503 or 504 (back-off 0.25 s doubling
      to 4 s, for at most 120 s), as a careful client does; `final` marks an
      operation's last attempt. `bad` names a broken contract seen at once:
      another organization's row in a list, two different ids for one key.
      The Stripe events of an organization's subscription (plan pro, its
      Stripe price PRICE) carry increasing
      `created` (one in five is sent with an older `created`, which billing
      must ignore) and a random cancel_at_period_end; the newest state
      sent and acknowledged is what billing must hold at the end.

  load.py reconcile ORGS_JSON LOG FAULTS DUMPDIR OUT_JSON
      Reads the log, the fault windows (FAULTS: JSON lines {kind, start,
      end} in the log's clock) and what soak.sh dumped from the databases
      and the receiver (DUMPDIR: calls.tsv, orders.tsv, events.tsv,
      subs.tsv, receiver.json, verify.txt), and writes the verdict:
      requests by outcome, calm and fault latencies, acknowledged writes
      checked, lost, duplicated, webhooks undelivered, subscription states
      wrong, isolation breaches, verify results. Exit 1 when anything that
      must be 0 is not.

Standard library only; one keep-alive connection per thread.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

RETRY_STATUSES = (0, 429, 503, 504)
RETRY_FOR = 120.0
DEADLINE_SLACK_MS = 1000.0          # an answer later than its route's deadline + this is late


class Api:
    """JSON over one keep-alive connection per thread; status 0 = no answer."""

    def __init__(self, base, timeout=30):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self.local = threading.local()

    def call(self, method, path, body=None, headers=None, raw=None):
        h = {"Accept": "application/json"}
        h.update(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        elif raw is not None:
            h.setdefault("Content-Type", "application/json")
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port,
                                                                 timeout=self.timeout)
        start = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            payload = r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            return 0, None, (time.monotonic() - start) * 1000.0
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            doc = None
        return status, doc, (time.monotonic() - start) * 1000.0


def code_of(doc):
    if isinstance(doc, dict) and isinstance(doc.get("error"), dict):
        return doc["error"].get("code")
    return None


def stripe_signature(secret, payload, ts=None):
    ts = int(ts if ts is not None else time.time())
    mac = hmac.new(secret.encode(), b"%d." % ts + payload, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (ts, mac)


def stripe_event(eid, etype, created, obj):
    return json.dumps({"id": eid, "object": "event", "type": etype, "created": created,
                       "api_version": "2025-03-31.basil", "livemode": False,
                       "data": {"object": obj}}, separators=(",", ":")).encode()


def subscription_object(sub, customer, created, cancel, price):
    return {"id": sub, "object": "subscription", "customer": customer, "status": "active",
            "cancel_at_period_end": cancel,
            "items": {"object": "list", "data": [{"id": "si_" + sub, "price": {"id": price},
                                                  "current_period_start": created,
                                                  "current_period_end": created + 2592000}]}}


def die(msg):
    print("load.py: " + msg, file=sys.stderr)
    sys.exit(2)


# ---- setup ------------------------------------------------------------------------------------

def setup(a):
    api = Api(a.base)
    orgs = []
    op = {"Authorization": "Bearer " + a.operator_token}
    for i in range(a.orgs):
        email = "soak-%s-%d@soak.example" % (a.run, i)
        s, doc, _ = api.call("POST", "/v1/auth/signup", {
            "email": email, "password": a.password, "name": "Soak %d" % i,
            "organization_name": "Soak %s %d" % (a.run, i)})
        if s != 201:
            die("signup %d: %s %s" % (i, s, doc))
        oid, at = doc["organization"]["id"], doc["access_token"]
        bearer = {"Authorization": "Bearer " + at}
        s, doc, _ = api.call("PUT", "/v1/sys/subscriptions/" + oid, {"plan": "pro"}, op)
        if s != 200:
            die("plan pro for %d: %s %s" % (i, s, doc))
        s, doc, _ = api.call("POST", "/v1/api-keys", {"name": "soak", "role": "admin"}, bearer)
        if s != 201:
            die("api key %d: %s %s" % (i, s, doc))
        key = doc["key"]
        kh = {"X-API-Key": key}
        businesses = []
        for j in range(2):
            s, doc, _ = api.call("POST", "/v1/businesses", {
                "name": "Soak %d.%d" % (i, j), "phone_number": "+1415555%02d%02d" % (i % 100, j),
                "timezone": ("America/New_York", "Asia/Kolkata")[j]}, kh)
            if s != 201:
                die("business %d.%d: %s %s" % (i, j, s, doc))
            businesses.append(doc["id"])
        # The plan's webhooks feature reaches tenant-svc by an event: poll.
        name = "org%d" % i
        deadline = time.time() + 30
        while True:
            s, doc, _ = api.call("POST", "/v1/webhooks", {
                "url": "%s/hook/%s/200" % (a.receiver, name),
                "events": ["call.created", "order.created"]}, kh)
            if s == 201 or time.time() > deadline:
                break
            time.sleep(0.5)
        if s != 201:
            die("webhook endpoint %d: %s %s" % (i, s, doc))
        secret = doc["secret"]
        req = receiver_secret(a.receiver, name, secret)
        # A checkout makes the Stripe customer (billing asks the fake Stripe,
        # which names it); Checkout's completion then binds the subscription.
        s, doc, _ = api.call("POST", "/v1/billing/checkout", {
            "plan": "pro", "success_url": "https://soak.example/ok",
            "cancel_url": "https://soak.example/cancel"}, kh)
        if s != 200:
            die("checkout %d: %s %s" % (i, s, doc))
        customer = stripe_customer_of(a.stripe_fake, oid)
        if not customer:
            die("no Stripe customer for organization %d at the fake" % i)
        sub = "sub_%s_%d" % (a.run, i)
        created = int(time.time()) - 3600
        payload = stripe_event("evt_%s_%d_checkout" % (a.run, i), "checkout.session.completed",
                               created, {"id": "cs_%s_%d" % (a.run, i), "object": "checkout.session",
                                         "mode": "subscription", "client_reference_id": oid,
                                         "customer": customer, "subscription": sub})
        s, doc, _ = api.call("POST", "/v1/billing/webhook", raw=payload,
                             headers={"Stripe-Signature": stripe_signature(a.stripe_secret, payload)})
        if s != 200:
            die("checkout event %d: %s %s" % (i, s, doc))
        orgs.append({"i": i, "org": oid, "email": email, "key": key, "businesses": businesses,
                     "hook": name, "secret": secret, "customer": customer, "subscription": sub,
                     "created": created, "receiver_ok": req})
    with open(a.orgs_json, "w") as f:
        json.dump({"run": a.run, "password": a.password, "orgs": orgs}, f, indent=1)
    print(json.dumps({"orgs": len(orgs)}))


def stripe_customer_of(fake, org):
    """The fake Stripe's customer whose metadata names the organization."""
    u = urllib.parse.urlsplit(fake)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/__fake/objects")
    objects = json.loads(c.getresponse().read())
    c.close()
    for cust in objects.get("customers", []):
        if (cust.get("metadata") or {}).get("organization_id") == org:
            return cust["id"]
    return None


def receiver_secret(base, name, secret):
    """Tells the webhook receiver the secret that signs NAME's deliveries."""
    u = urllib.parse.urlsplit(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("POST", "/secrets/" + name, body=json.dumps({"secrets": [secret]}).encode())
    r = c.getresponse()
    r.read()
    c.close()
    return r.status == 200


# ---- the load -----------------------------------------------------------------------------------

class Run:
    def __init__(self, a, orgs):
        self.a, self.orgs = a, orgs["orgs"]
        self.password = orgs["password"]
        self.api = Api(a.base)
        self.log = open(a.log, "a", buffering=1)
        self.lock = threading.Lock()
        self.t0 = float(a.t0) if a.t0 else time.time()
        self.seq = 0
        self.created = {o["i"]: set() for o in self.orgs}     # call ids, per org
        self.owner = {}                                       # call id -> org i
        self.stripe_next = {o["i"]: o["created"] + 1 for o in self.orgs}
        self.stripe_state = {}                                # org i -> (created, cancel)
        self.stripe_sent = {}                                 # org i -> {created: cancel}
        self.stop = False

    def next_seq(self):
        with self.lock:
            self.seq += 1
            return self.seq

    def record(self, **r):
        r["t"] = round(time.time() - self.t0, 3)
        with self.lock:
            self.log.write(json.dumps(r, separators=(",", ":")) + "\n")

    def once(self, org, op, method, path, body=None, headers=None, raw=None, key=None):
        h = {"X-API-Key": org["key"]}
        h.update(headers or {})
        s, doc, ms = self.api.call(method, path, body, h, raw)
        return s, doc, ms

    def write(self, org, op, method, path, body, key, idem=True, idof=None):
        """A write retried with the same key; returns (status, doc) of the last attempt."""
        start = time.monotonic()
        attempt, delay, ids = 0, 0.25, set()
        while True:
            attempt += 1
            hdr = {"Idempotency-Key": key} if idem else {}
            s, doc, ms = self.once(org, op, method, path, body, hdr)
            rid = idof(doc) if (idof and 200 <= s < 300 and isinstance(doc, dict)) else None
            if rid:
                ids.add(rid)
            retry = s in RETRY_STATUSES and time.monotonic() - start < RETRY_FOR and not self.stop
            bad = "two ids for one key: %s" % sorted(ids) if len(ids) > 1 else None
            self.record(org=org["i"], op=op, status=s, ms=round(ms, 2), code=code_of(doc), key=key,
                        id=rid, attempt=attempt, final=not retry, bad=bad)
            if not retry:
                return s, doc
            time.sleep(delay)
            delay = min(delay * 2, 4.0)

    def read(self, org, op, path, check=None):
        s, doc, ms = self.once(org, op, "GET", path)
        bad = check(doc) if (check and s == 200) else None
        self.record(org=org["i"], op=op, status=s, ms=round(ms, 2), code=code_of(doc), key=None,
                    id=None, attempt=1, final=True, bad=bad)

    # -- operations --
    def op_list_businesses(self, org):
        mine = set(org["businesses"])

        def check(doc):
            other = [b.get("id") for b in (doc or {}).get("data", []) if b.get("id") not in mine]
            return "foreign businesses %s" % other if other else None
        self.read(org, "list_businesses", "/v1/businesses?limit=20", check)

    def op_list_calls(self, org):
        mine = set(org["businesses"])

        def check(doc):
            bad = []
            for c in (doc or {}).get("data", []):
                o = self.owner.get(c.get("id"))
                if c.get("business_id") not in mine or (o is not None and o != org["i"]):
                    bad.append(c.get("id"))
            return "foreign calls %s" % bad if bad else None
        self.read(org, "list_calls", "/v1/calls?limit=20", check)

    def op_create_call(self, org):
        key = "%s-c-%d-%d" % (self.a.run, org["i"], self.next_seq())
        body = {"business_id": random.choice(org["businesses"]), "caller_number": "+14155550199",
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
                "duration_seconds": random.randint(5, 600),
                "status": random.choice(("completed", "completed", "missed", "voicemail")),
                "summary": key}
        s, doc = self.write(org, "create_call", "POST", "/v1/calls", body, key,
                            idof=lambda d: d.get("id"))
        if 200 <= s < 300 and isinstance(doc, dict) and doc.get("id"):
            with self.lock:
                self.created[org["i"]].add(doc["id"])
                self.owner[doc["id"]] = org["i"]

    def op_create_order(self, org):
        key = "%s-o-%d-%d" % (self.a.run, org["i"], self.next_seq())
        body = {"business_id": random.choice(org["businesses"]), "customer_name": key,
                "items": [{"name": "Pizza", "quantity": random.randint(1, 3),
                           "unit_price_cents": 1250}], "currency": "USD"}
        self.write(org, "create_order", "POST", "/v1/orders", body, key, idof=lambda d: d.get("id"))

    def op_usage_events(self, org):
        n = self.next_seq()
        key = "%s-u-%d-%d" % (self.a.run, org["i"], n)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"events": [{"id": "%s-%d" % (key, j), "metric": "soak_units", "quantity": 1,
                            "occurred_at": now} for j in range(10)]}
        self.write(org, "usage_events", "POST", "/v1/usage/events", body, key, idem=False)

    def op_reservation(self, org):
        key = "%s-r-%d-%d" % (self.a.run, org["i"], self.next_seq())
        s, doc = self.write(org, "reserve", "POST", "/v1/usage/reservations",
                            {"metric": "calls", "quantity": 2, "expires_in_seconds": 120}, key,
                            idof=lambda d: d.get("id"))
        if 200 <= s < 300 and isinstance(doc, dict) and doc.get("id"):
            rid = doc["id"]
            if random.random() < 0.5:
                self.write(org, "reserve_commit", "POST",
                           "/v1/usage/reservations/%s/commit" % rid,
                           {"quantity": 1, "event_id": key + "-commit"}, key + "-commit")
            else:
                self.write(org, "reserve_release", "POST",
                           "/v1/usage/reservations/%s/release" % rid, {}, key + "-release")

    def op_login(self, org):
        s, doc, ms = self.api.call("POST", "/v1/auth/login",
                                   {"email": org["email"], "password": self.password})
        self.record(org=org["i"], op="login", status=s, ms=round(ms, 2), code=code_of(doc),
                    key=None, id=None, attempt=1, final=True, bad=None)

    def op_signup(self, org):
        n = self.next_seq()
        s, doc, ms = self.api.call("POST", "/v1/auth/signup", {
            "email": "soak-%s-new-%d@soak.example" % (self.a.run, n), "password": self.password,
            "name": "New %d" % n, "organization_name": "Soak new %d" % n})
        self.record(org=-1, op="signup", status=s, ms=round(ms, 2), code=code_of(doc), key=None,
                    id=None, attempt=1, final=True, bad=None)

    def op_stripe_event(self, org):
        i = org["i"]
        with self.lock:
            if random.random() < 0.2:
                # Older than every update sent: billing must not apply it.
                created = org["created"] - random.randint(1, 100)
            else:
                created = self.stripe_next[i]
                self.stripe_next[i] += 1
        cancel = random.random() < 0.5
        with self.lock:
            self.stripe_sent.setdefault(i, {})[created] = cancel
        eid = "evt_%s_%d_%d" % (self.a.run, i, self.next_seq())
        payload = stripe_event(eid, "customer.subscription.updated", created,
                               subscription_object(org["subscription"], org["customer"], created,
                                                   cancel, self.a.price))
        start = time.monotonic()
        attempt, delay = 0, 0.25
        while True:
            attempt += 1
            s, doc, ms = self.api.call("POST", "/v1/billing/webhook", raw=payload, headers={
                "Stripe-Signature": stripe_signature(self.a.stripe_secret, payload)})
            retry = s in RETRY_STATUSES and time.monotonic() - start < RETRY_FOR and not self.stop
            self.record(org=i, op="stripe_webhook", status=s, ms=round(ms, 2), code=code_of(doc),
                        key=eid, id=None, attempt=attempt, final=not retry, bad=None,
                        created=created, cancel=cancel)
            if not retry:
                break
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        if s == 200:
            with self.lock:
                if created > self.stripe_state.get(i, (0, None))[0]:
                    self.stripe_state[i] = (created, cancel)

    def op_portal(self, org):
        s, doc, ms = self.once(org, "portal", "POST", "/v1/billing/portal",
                               {"return_url": "https://soak.example/back"})
        self.record(org=org["i"], op="portal", status=s, ms=round(ms, 2), code=code_of(doc),
                    key=None, id=None, attempt=1, final=True, bad=None)

    OPS = (("list_businesses", 10), ("list_calls", 10), ("create_call", 10),
           ("create_order", 5), ("usage_events", 6), ("reservation", 2), ("login", 1),
           ("signup", 0.3), ("stripe_event", 2), ("portal", 0.5))

    def worker(self, n, interval):
        names = [o for o, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        rng = random.Random(n)
        k = n
        next_at = time.monotonic()
        while not os.path.exists(self.a.stopfile):
            org = self.orgs[k % len(self.orgs)]
            k += 1
            getattr(self, "op_" + rng.choices(names, weights)[0])(org)
            next_at += interval
            pause = next_at - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -5:
                next_at = time.monotonic()        # far behind: do not burst to catch up
        self.stop = True

    def run(self):
        interval = self.a.threads / float(self.a.rate)
        threads = [threading.Thread(target=self.worker, args=(n, interval), daemon=True)
                   for n in range(self.a.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with open(self.a.log + ".stripe.json", "w") as f:
            json.dump({str(i): {"created": c, "cancel": x,
                                "sent": {str(k): v for k, v in self.stripe_sent.get(i, {}).items()}}
                       for i, (c, x) in self.stripe_state.items()}, f)


# ---- reconciliation -----------------------------------------------------------------------------

DEADLINES = {"portal": 15000.0}     # the gateway's route deadlines (ms); 5 s elsewhere


def tsv(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    rows.append(line.split("\t"))
    return rows


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(p / 100.0 * len(v)))], 1)


def reconcile(a):
    orgs = json.load(open(a.orgs_json))["orgs"]
    by_org = {o["org"]: o["i"] for o in orgs}
    log = [json.loads(line) for line in open(a.log) if line.strip()]
    faults = [json.loads(line) for line in open(a.faults) if line.strip()] \
        if os.path.exists(a.faults) else []
    stripe_state = json.load(open(a.log + ".stripe.json")) \
        if os.path.exists(a.log + ".stripe.json") else {}
    d = a.dumpdir

    def in_fault(t, kinds=None):
        return any(f["start"] <= t <= (f.get("end") or f["start"]) + 10 for f in faults
                   if kinds is None or f["kind"] in kinds)

    # Requests by outcome: every attempt, as the client saw it.
    outcome = {"2xx": 0, "4xx": 0, "503": 0, "504": 0, "502 stripe_unavailable": 0,
               "no connection (the gateway restarting)": 0, "no answer": 0, "other": 0}
    others, late, bads = [], 0, []
    calm, faulty = [], []
    for r in log:
        s = r["status"]
        cls = "2xx" if 200 <= s < 300 else "4xx" if 400 <= s < 500 else "503" if s == 503 \
            else "504" if s == 504 else "no answer" if s == 0 else "other"
        # The portal while Stripe is down or slow: 502 stripe_unavailable, by contract.
        if cls == "other" and s == 502 and r.get("code") == "stripe_unavailable":
            cls = "502 stripe_unavailable"
        # No HTTP server to connect to while the gateway (the event proxy's
        # host) is killed and started again: a client's load balancer sees
        # the same; anywhere else no answer is a broken contract.
        if cls == "no answer" and in_fault(r["t"], ("proxy-dropped",)):
            cls = "no connection (the gateway restarting)"
        outcome[cls] += 1
        if cls == "other":
            others.append(r)
        if s and r["ms"] > DEADLINES.get(r["op"], 5000.0) + DEADLINE_SLACK_MS:
            late += 1
        if r.get("bad"):
            bads.append(r)
        if 200 <= s < 300:
            (faulty if in_fault(r["t"]) else calm).append(r["ms"])

    # Acknowledged writes: the final attempt of each key answered 2xx.
    acked = {}
    for r in log:
        if r["final"] and r["key"] and 200 <= r["status"] < 300:
            acked.setdefault(r["op"], set()).add(r["key"])
    tried = {}
    for r in log:
        if r["key"]:
            tried.setdefault(r["op"], set()).add(r["key"])

    def rows_per_key(rows, col):
        n = {}
        for row in rows:
            n[row[col]] = n.get(row[col], 0) + 1
        return n

    checks = {}
    calls = rows_per_key(tsv(os.path.join(d, "calls.tsv")), 2)
    orders = rows_per_key(tsv(os.path.join(d, "orders.tsv")), 2)
    events = rows_per_key(tsv(os.path.join(d, "events.tsv")), 1)
    for name, op, stored in (("calls", "create_call", calls), ("orders", "create_order", orders)):
        ack = acked.get(op, set())
        checks[name] = {"acknowledged": len(ack),
                        "lost": sorted(k for k in ack if stored.get(k, 0) == 0)[:20],
                        "lost_count": sum(1 for k in ack if stored.get(k, 0) == 0),
                        "duplicated_count": sum(1 for k in tried.get(op, set())
                                                if stored.get(k, 0) > 1),
                        "unacknowledged_stored": sum(1 for k in tried.get(op, set()) - ack
                                                     if stored.get(k, 0) == 1)}
    ack = acked.get("usage_events", set())
    ev_lost = sum(1 for k in ack for j in range(10) if events.get("%s-%d" % (k, j), 0) == 0)
    checks["usage_events"] = {"acknowledged": len(ack) * 10, "lost_count": ev_lost,
                              "duplicated_count": sum(1 for v in events.values() if v > 1)}

    # Webhooks: every acknowledged call and order was delivered to its endpoint.
    delivered = {}
    try:
        rec = json.load(open(os.path.join(d, "receiver.json")))
    except (OSError, ValueError):
        rec = []
    for x in rec:
        body = x.get("body") or {}
        data = body.get("data") or {}
        if x.get("valid") and isinstance(data, dict) and data.get("id"):
            delivered.setdefault(x["name"], set()).add(data["id"])
    call_ids = {row[2]: row[1] for row in tsv(os.path.join(d, "calls.tsv"))}
    order_ids = {row[2]: row[1] for row in tsv(os.path.join(d, "orders.tsv"))}
    org_of_key = {}
    for r in log:
        if r["key"]:
            org_of_key[r["key"]] = r["org"]
    undelivered = 0
    expected = 0
    for op, ids in (("create_call", call_ids), ("create_order", order_ids)):
        for k in acked.get(op, set()):
            oid = ids.get(k)
            if not oid:
                continue
            expected += 1
            if oid not in delivered.get("org%d" % org_of_key[k], set()):
                undelivered += 1
    checks["webhooks"] = {"expected": expected, "undelivered": undelivered}

    # Subscriptions: billing holds the newest state acknowledged.
    wrong = []
    subs = {row[0]: row for row in tsv(os.path.join(d, "subs.tsv"))}
    for o in orgs:
        want = stripe_state.get(str(o["i"]))
        row = subs.get(o["org"])
        if not want:
            continue
        got_cancel = row[2] == "t" if row else None
        got_at = int(float(row[3])) if row and row[3] else None
        # The newest acknowledged, or a newer one sent whose answer was lost
        # (applied by billing, then the client gave up): both are right.
        right = (got_at == want["created"] and got_cancel == want["cancel"]) or (
            got_at is not None and got_at > want["created"]
            and want["sent"].get(str(got_at)) == got_cancel)
        if not row or not right:
            wrong.append({"org": o["i"], "want": {k: want[k] for k in ("created", "cancel")},
                          "got": row})
    checks["subscriptions"] = {"checked": len(stripe_state), "wrong": len(wrong),
                               "examples": wrong[:5]}

    verify = open(os.path.join(d, "verify.txt")).read() if os.path.exists(
        os.path.join(d, "verify.txt")) else ""
    checks["verify"] = verify.strip().splitlines()[-6:]
    verify_ok = "DIFF" not in verify and "FAIL" not in verify and verify.strip() != ""

    lost = sum(c.get("lost_count", 0) for c in checks.values() if isinstance(c, dict))
    dup = sum(c.get("duplicated_count", 0) for c in checks.values() if isinstance(c, dict))
    result = {
        "requests": len(log), "outcomes": outcome, "other_examples": others[:5],
        "late": late, "isolation_breaches": len(bads), "breach_examples": bads[:5],
        "latency_ms": {"calm": {"n": len(calm), "p50": pct(calm, 50), "p99": pct(calm, 99)},
                       "faults": {"n": len(faulty), "p50": pct(faulty, 50),
                                  "p99": pct(faulty, 99)}},
        "faults": faults, "checks": checks, "lost": lost, "duplicated": dup,
        "verify_ok": verify_ok,
    }
    ok = (lost == 0 and dup == 0 and not bads and outcome["other"] == 0
          and outcome["no answer"] == 0 and late == 0
          and undelivered == 0 and not wrong and verify_ok)
    result["ok"] = ok
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: result[k] for k in ("requests", "outcomes", "late", "lost",
                                             "duplicated", "isolation_breaches", "ok")}))
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("base")
    s.add_argument("orgs_json")
    s.add_argument("--orgs", type=int, default=4)
    s.add_argument("--run", required=True)
    s.add_argument("--receiver", required=True)
    s.add_argument("--operator-token", required=True)
    s.add_argument("--stripe-secret", required=True)
    s.add_argument("--stripe-fake", required=True)
    s.add_argument("--password", default="soak-password-123")
    r = sub.add_parser("run")
    r.add_argument("base")
    r.add_argument("orgs_json")
    r.add_argument("log")
    r.add_argument("stopfile")
    r.add_argument("--threads", type=int, default=8)
    r.add_argument("--rate", type=float, default=100)
    r.add_argument("--run", required=True)
    r.add_argument("--stripe-secret", required=True)
    r.add_argument("--price", required=True)
    r.add_argument("--t0", default=None)
    c = sub.add_parser("reconcile")
    c.add_argument("orgs_json")
    c.add_argument("log")
    c.add_argument("faults")
    c.add_argument("dumpdir")
    c.add_argument("out")
    a = p.parse_args()
    if a.cmd == "setup":
        setup(a)
    elif a.cmd == "run":
        Run(a, json.load(open(a.orgs_json))).run()
    else:
        sys.exit(reconcile(a))


if __name__ == "__main__":
    main()
