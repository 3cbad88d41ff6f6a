#!/usr/bin/python3
"""stripe_fake.py PORT STATE_DIR — a fake Stripe API server for the tests.

For the integration tests (tests/lib/stripe.sh starts it with
stripe_fake_start): it listens on 127.0.0.1:PORT (0 = any free port),
prints the port as the first line of stdout, and serves until SIGTERM (a
clean stop, exit status 0). Threaded; every request is handled under one
lock (after the configured delay), so the state is always consistent. The
state lives in memory; the request log is also appended to
STATE_DIR/requests.jsonl, one JSON object a line.

What it checks and answers, in Stripe's shapes (objects with realistic id
prefixes; errors as {"error": {"type", "code"?, "param"?, "message"}}; a
Request-Id header on every answer):
  - Authorization must be "Bearer $FAKE_STRIPE_KEY", else 401.
  - POST bodies are application/x-www-form-urlencoded; keys in Stripe's
    bracket notation are kept as flat strings ("metadata[org_id]") in the
    log, and folded into objects where the resource needs them.
  - Idempotency-Key on a POST: the first answer is saved with the method,
    path and parameters; a repeat with the same ones gets the same status
    and body plus "Idempotent-Replayed: true"; with other ones, 400
    idempotency_error. As at Stripe, an answer refused before the API ran
    (401, injected failures, "down") is not saved.
  - POST /v1/customers, GET /v1/customers/{id},
    POST /v1/customers/{id}/balance_transactions (amount, currency),
    POST /v1/checkout/sessions (mode, success_url unless ui_mode is embedded
    or custom, line_items[0][price] in subscription mode; customer must
    exist when given; answers url https://checkout.stripe.test/c/pay/<id>;
    line_items are not returned, as at Stripe),
    POST /v1/billing_portal/sessions (customer required),
    POST /v1/billing/meter_events (event_name, payload[stripe_customer_id],
    payload[value]; an identifier seen before in this fake's life is
    answered 400 invalid_request_error code resource_already_exists — Stripe
    documents uniqueness within 24 hours but not the exact answer, so this
    is our assumption; every event, duplicate or not, is kept),
    POST /v1/products (optional id; an existing id: 400
    resource_already_exists), GET /v1/products/{id},
    POST /v1/prices (lookup_key unique among prices unless
    transfer_lookup_key=true), GET /v1/prices?lookup_keys[]=..&active=..
    &product=.., GET /v1/prices/{id},
    POST /v1/billing/meters (event_name unique among active meters),
    GET /v1/billing/meters?status=&limit=&starting_after= (paginated).
    Anything else: 404 invalid_request_error "Unrecognized request URL".
Control endpoints (no key needed, never logged):
  GET  /__fake/requests   every request recorded, oldest first: {method, path,
                          query, headers: {authorization, idempotency-key,
                          content-type, stripe-version, user-agent}, form:
                          [[key, value], ...], body, replayed, status}
  GET  /__fake/arrivals   every API request as it arrived, before the delay
                          and whatever its fate (so a test can act while one
                          is in flight): {method, path, time}, oldest first
  GET  /__fake/objects    {customers, products, prices, meters,
                          checkout_sessions, portal_sessions, meter_events,
                          balance_transactions}: lists in creation order
  POST /__fake/forget_keys  forget the saved Idempotency-Key answers only
                          (Stripe prunes them after 24 hours)
  POST /__fake/reset      forget everything (objects, log, keys, config)
  POST /__fake/config     JSON merged into the configuration and answered:
                          {"delay_ms": N} before each answer;
                          {"fail": {"path": P, "status": S, "count": N,
                          "method": M, "type": T, "code": C,
                          "should_retry": true|false|null}} the next N
                          requests to path P (with method M only, when
                          given) answered S with an error of type T
                          (api_error) and code C (none), and
                          Stripe-Should-Retry when given; null clears;
                          {"down": true} accept and close every connection
                          without an answer.
Python 3 standard library only.
"""

import http.server
import json
import os
import random
import signal
import string
import sys
import threading
import time
import urllib.parse

ALPHABET = string.ascii_letters + string.digits
MAX_BODY = 1024 * 1024
HEADERS_OF_INTEREST = ("authorization", "idempotency-key", "content-type", "stripe-version",
                       "user-agent")


def new_id(prefix, length=24):
    return prefix + "".join(random.choice(ALPHABET) for _ in range(length))


def error(status, type_, message, code=None, param=None):
    body = {"type": type_, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return status, {"error": body}


def missing(param):
    return error(400, "invalid_request_error", "Missing required param: %s." % param,
                 "parameter_missing", param)


def no_such(kind, ident, param="id"):
    return error(404 if param == "id" else 400, "invalid_request_error",
                 "No such %s: '%s'" % (kind, ident), "resource_missing", param)


def sub(form, name):
    """The name[key] entries of a flat form dict, as a dict."""
    prefix = name + "["
    return {k[len(prefix):-1]: v for k, v in form.items()
            if k.startswith(prefix) and k.endswith("]") and "[" not in k[len(prefix):-1]}


def integer(form, name):
    value = form.get(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class State:
    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.objects = {k: {} for k in ("customers", "products", "prices", "meters",
                                        "checkout_sessions", "portal_sessions",
                                        "balance_transactions")}
        self.meter_events = []
        self.identifiers = set()
        self.idempotency = {}
        self.requests = []
        self.arrivals = []
        self.config = {"delay_ms": 0, "fail": None, "down": False}
        with open(os.path.join(self.state_dir, "requests.jsonl"), "w"):
            pass

    def record(self, entry):
        self.requests.append(entry)
        with open(os.path.join(self.state_dir, "requests.jsonl"), "a") as f:
            f.write(json.dumps(entry) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server_version = "stripe_fake"
    sys_version = ""

    def log_message(self, format, *args):
        sys.stderr.write("stripe_fake: %s\n" % (format % args))

    # ---- plumbing ----------------------------------------------------------

    def send(self, status, body, extra=None):
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", new_id("req_", 14))
        self.send_header("Stripe-Version",
                         self.headers.get("Stripe-Version") or "2025-03-31.basil")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = self.headers.get("Content-Length")
        try:
            length = int(length) if length is not None else 0
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        path, query = url.path, url.query
        raw = self.read_body()
        if raw is None:
            self.close_connection = True
            self.send(413, error(413, "invalid_request_error", "body too large")[1])
            return
        if path.startswith("/__fake/"):
            self.control(method, path, raw)
            return

        config = state.config
        with state.lock:
            state.arrivals.append({"method": method, "path": path, "time": time.time()})
        if config.get("down"):
            with state.lock:
                state.record(self.entry(method, path, query, raw, [], False, 0))
            self.close_connection = True
            return
        delay = config.get("delay_ms") or 0
        if delay:
            time.sleep(delay / 1000.0)

        body_text = raw.decode("utf-8", "replace")
        pairs = urllib.parse.parse_qsl(body_text, keep_blank_values=True)
        query_pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        extra = {}
        with state.lock:
            replayed = False
            status, answer = self.check(state, method, path, extra)
            if status is None:
                key = self.headers.get("Idempotency-Key") if method == "POST" else None
                fingerprint = [method, path, pairs]
                saved = state.idempotency.get(key) if key else None
                if saved and saved["fingerprint"] != fingerprint:
                    status, answer = error(
                        400, "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        "'%s' if you meant to execute a different request." % key)
                elif saved:
                    status, answer = saved["status"], saved["body"]
                    replayed = True
                    extra["Idempotent-Replayed"] = "true"
                else:
                    form = dict(pairs)
                    status, answer = self.route(state, method, path, form, query_pairs)
                    if key:
                        state.idempotency[key] = {"fingerprint": fingerprint,
                                                  "status": status, "body": answer}
            state.record(self.entry(method, path, query, raw, pairs, replayed, status))
        self.send(status, answer, extra)

    def entry(self, method, path, query, raw, pairs, replayed, status):
        headers = {}
        for name in HEADERS_OF_INTEREST:
            value = self.headers.get(name)
            if value is not None:
                headers[name] = value
        return {"method": method, "path": path, "query": query, "headers": headers,
                "form": [list(p) for p in pairs], "body": raw.decode("utf-8", "replace"),
                "replayed": replayed, "status": status, "time": time.time()}

    def check(self, state, method, path, extra):
        """Refusals that come before the API runs (never saved for a key)."""
        key = os.environ.get("FAKE_STRIPE_KEY", "")
        if not key or self.headers.get("Authorization") != "Bearer " + key:
            return error(401, "invalid_request_error",
                         "Invalid API Key provided: %s" % "sk_test_****")
        fail = state.config.get("fail")
        if (fail and fail.get("path") == path and fail.get("count", 0) > 0
                and fail.get("method", method) == method):
            fail["count"] -= 1
            retry = fail.get("should_retry")
            if retry is not None:
                extra["Stripe-Should-Retry"] = "true" if retry else "false"
            return error(int(fail.get("status", 500)), fail.get("type") or "api_error",
                         "An injected failure of the fake (%d left)." % fail["count"],
                         fail.get("code"))
        return None, None

    def control(self, method, path, raw):
        state = self.server.state
        with state.lock:
            if method == "GET" and path == "/__fake/requests":
                self.send(200, state.requests)
            elif method == "GET" and path == "/__fake/arrivals":
                self.send(200, state.arrivals)
            elif method == "GET" and path == "/__fake/objects":
                body = {k: list(v.values()) for k, v in state.objects.items()}
                body["meter_events"] = state.meter_events
                self.send(200, body)
            elif method == "POST" and path == "/__fake/forget_keys":
                state.idempotency = {}
                self.send(200, {"forgotten": True})
            elif method == "POST" and path == "/__fake/reset":
                state.reset()
                self.send(200, {"reset": True})
            elif method == "POST" and path == "/__fake/config":
                try:
                    change = json.loads(raw.decode("utf-8") or "{}")
                    if not isinstance(change, dict):
                        raise ValueError("not an object")
                except ValueError as e:
                    self.send(400, {"error": {"type": "fake", "message": str(e)}})
                    return
                state.config.update(change)
                self.send(200, state.config)
            else:
                self.send(*error(404, "invalid_request_error", "no such control endpoint"))

    # ---- the API -----------------------------------------------------------

    def route(self, state, method, path, form, query):
        parts = path.strip("/").split("/")
        objects = state.objects
        now = int(time.time())
        if method == "POST" and path == "/v1/customers":
            return self.create_customer(objects, form, now)
        if len(parts) == 3 and parts[:2] == ["v1", "customers"] and method == "GET":
            customer = objects["customers"].get(parts[2])
            return (200, customer) if customer else no_such("customer", parts[2])
        if (len(parts) == 4 and parts[:2] == ["v1", "customers"]
                and parts[3] == "balance_transactions" and method == "POST"):
            return self.balance_transaction(objects, parts[2], form, now)
        if method == "POST" and path == "/v1/checkout/sessions":
            return self.checkout_session(objects, form, now)
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self.portal_session(objects, form, now)
        if method == "POST" and path == "/v1/billing/meter_events":
            return self.meter_event(state, form, now)
        if method == "POST" and path == "/v1/products":
            return self.create_product(objects, form, now)
        if len(parts) == 3 and parts[:2] == ["v1", "products"] and method == "GET":
            product = objects["products"].get(parts[2])
            return (200, product) if product else no_such("product", parts[2])
        if method == "POST" and path == "/v1/prices":
            return self.create_price(objects, form, now)
        if method == "GET" and path == "/v1/prices":
            return self.list_prices(objects, query)
        if len(parts) == 3 and parts[:2] == ["v1", "prices"] and method == "GET":
            price = objects["prices"].get(parts[2])
            return (200, price) if price else no_such("price", parts[2])
        if method == "POST" and path == "/v1/billing/meters":
            return self.create_meter(objects, form, now)
        if method == "GET" and path == "/v1/billing/meters":
            return self.list_meters(objects, query)
        return error(404, "invalid_request_error",
                     "Unrecognized request URL (%s: %s). Please see https://stripe.com/docs "
                     "or we can help at https://support.stripe.com/." % (method, path))

    def create_customer(self, objects, form, now):
        customer = {"id": new_id("cus_", 14), "object": "customer", "created": now,
                    "email": form.get("email"), "name": form.get("name"),
                    "description": form.get("description"), "metadata": sub(form, "metadata"),
                    "balance": 0, "currency": None, "livemode": False}
        objects["customers"][customer["id"]] = customer
        return 200, customer

    def balance_transaction(self, objects, customer_id, form, now):
        customer = objects["customers"].get(customer_id)
        if not customer:
            return no_such("customer", customer_id)
        if "amount" not in form:
            return missing("amount")
        if "currency" not in form:
            return missing("currency")
        amount = integer(form, "amount")
        if amount is None:
            return error(400, "invalid_request_error", "Invalid integer: %s" % form["amount"],
                         "parameter_invalid_integer", "amount")
        customer["balance"] += amount
        customer["currency"] = customer["currency"] or form["currency"]
        txn = {"id": new_id("cbtxn_", 24), "object": "customer_balance_transaction",
               "amount": amount, "currency": form["currency"], "customer": customer_id,
               "created": now, "description": form.get("description"),
               "ending_balance": customer["balance"], "metadata": sub(form, "metadata"),
               "type": "adjustment", "livemode": False}
        objects["balance_transactions"][txn["id"]] = txn
        return 200, txn

    def checkout_session(self, objects, form, now):
        mode = form.get("mode")
        if not mode:
            return missing("mode")
        if mode not in ("payment", "setup", "subscription"):
            return error(400, "invalid_request_error", "Invalid mode: %s" % mode,
                         "parameter_invalid", "mode")
        if form.get("ui_mode", "hosted") == "hosted" and not form.get("success_url"):
            return missing("success_url")
        if mode == "subscription" and "line_items[0][price]" not in form:
            return missing("line_items")
        customer = form.get("customer")
        if customer and customer not in objects["customers"]:
            return no_such("customer", customer, "customer")
        for key, value in form.items():
            if key.startswith("line_items[") and key.endswith("][price]"):
                if value not in objects["prices"]:
                    return no_such("price", value, key)
        ident = new_id("cs_test_a1", 48)
        session = {"id": ident, "object": "checkout.session", "mode": mode,
                   "customer": customer, "customer_email": form.get("customer_email"),
                   "client_reference_id": form.get("client_reference_id"),
                   "metadata": sub(form, "metadata"), "success_url": form.get("success_url"),
                   "cancel_url": form.get("cancel_url"), "status": "open",
                   "payment_status": "unpaid", "subscription": None, "created": now,
                   "expires_at": integer(form, "expires_at") or now + 86400,
                   "url": "https://checkout.stripe.test/c/pay/%s" % ident, "livemode": False}
        objects["checkout_sessions"][ident] = session
        return 200, session

    def portal_session(self, objects, form, now):
        customer = form.get("customer")
        if not customer:
            return missing("customer")
        if customer not in objects["customers"]:
            return no_such("customer", customer, "customer")
        ident = new_id("bps_", 24)
        session = {"id": ident, "object": "billing_portal.session", "customer": customer,
                   "return_url": form.get("return_url"), "created": now,
                   "url": "https://billing.stripe.test/p/session/test_%s" % ident[4:],
                   "livemode": False, "locale": form.get("locale"),
                   "configuration": form.get("configuration")}
        objects["portal_sessions"][ident] = session
        return 200, session

    def meter_event(self, state, form, now):
        for param in ("event_name", "payload[stripe_customer_id]", "payload[value]"):
            if not form.get(param):
                return missing(param)
        identifier = form.get("identifier") or new_id("", 32)
        event = {"object": "billing.meter_event", "created": now,
                 "event_name": form["event_name"], "identifier": identifier,
                 "livemode": False, "payload": sub(form, "payload"),
                 "timestamp": integer(form, "timestamp") or now}
        duplicate = identifier in state.identifiers
        state.meter_events.append(dict(event, duplicate=duplicate))
        if duplicate:
            return error(400, "invalid_request_error",
                         "An event with identifier '%s' already exists." % identifier,
                         "resource_already_exists", "identifier")
        state.identifiers.add(identifier)
        return 200, event

    def create_product(self, objects, form, now):
        if not form.get("name"):
            return missing("name")
        ident = form.get("id") or new_id("prod_", 14)
        if ident in objects["products"]:
            return error(400, "invalid_request_error", "Product already exists.",
                         "resource_already_exists", "id")
        product = {"id": ident, "object": "product", "active": True, "name": form["name"],
                   "description": form.get("description"), "metadata": sub(form, "metadata"),
                   "created": now, "updated": now, "livemode": False}
        objects["products"][ident] = product
        return 200, product

    def create_price(self, objects, form, now):
        for param in ("currency", "product"):
            if not form.get(param):
                return missing(param)
        if form["product"] not in objects["products"]:
            return no_such("product", form["product"], "product")
        recurring = sub(form, "recurring")
        usage = recurring.get("usage_type", "licensed")
        meter = recurring.get("meter")
        if usage == "metered" and not meter:
            return missing("recurring[meter]")
        if meter and meter not in objects["meters"]:
            return no_such("billing.meter", meter, "recurring[meter]")
        amount = integer(form, "unit_amount")
        if amount is None:
            return missing("unit_amount")
        lookup_key = form.get("lookup_key")
        if lookup_key:
            holders = [p for p in objects["prices"].values() if p["lookup_key"] == lookup_key]
            if holders and form.get("transfer_lookup_key") != "true":
                return error(400, "invalid_request_error",
                             "A price (`%s`) already uses that lookup key." % holders[0]["id"],
                             "resource_already_exists", "lookup_key")
            for p in holders:
                p["lookup_key"] = None
        price = {"id": new_id("price_", 24), "object": "price", "active": True,
                 "billing_scheme": "per_unit", "created": now, "currency": form["currency"],
                 "livemode": False, "lookup_key": lookup_key, "metadata": sub(form, "metadata"),
                 "nickname": form.get("nickname"), "product": form["product"],
                 "recurring": None, "type": "one_time", "unit_amount": amount,
                 "unit_amount_decimal": str(amount)}
        if recurring:
            price["type"] = "recurring"
            price["recurring"] = {"interval": recurring.get("interval"),
                                  "interval_count": integer(recurring, "interval_count") or 1,
                                  "meter": meter, "trial_period_days": None,
                                  "usage_type": usage}
        objects["prices"][price["id"]] = price
        return 200, price

    def list_prices(self, objects, query):
        lookup_keys = [v for k, v in query if k in ("lookup_keys[]", "lookup_keys")
                       or k.startswith("lookup_keys[")]
        filters = dict(query)
        data = []
        for price in objects["prices"].values():
            if lookup_keys and price["lookup_key"] not in lookup_keys:
                continue
            if "active" in filters and str(price["active"]).lower() != filters["active"]:
                continue
            if "product" in filters and price["product"] != filters["product"]:
                continue
            data.append(price)
        data.reverse()              # newest first, as Stripe lists
        return 200, {"object": "list", "data": data, "has_more": False, "url": "/v1/prices"}

    def create_meter(self, objects, form, now):
        for param in ("display_name", "event_name", "default_aggregation[formula]"):
            if not form.get(param):
                return missing(param)
        if any(m["event_name"] == form["event_name"] and m["status"] == "active"
               for m in objects["meters"].values()):
            return error(400, "invalid_request_error",
                         "An active meter with event_name '%s' already exists."
                         % form["event_name"], "resource_already_exists", "event_name")
        mapping = sub(form, "customer_mapping")
        meter = {"id": new_id("mtr_", 24), "object": "billing.meter", "created": now,
                 "updated": now, "display_name": form["display_name"],
                 "event_name": form["event_name"],
                 "default_aggregation": {"formula": form["default_aggregation[formula]"]},
                 "customer_mapping": {"type": mapping.get("type", "by_id"),
                                      "event_payload_key":
                                          mapping.get("event_payload_key", "stripe_customer_id")},
                 "value_settings": {"event_payload_key":
                                        sub(form, "value_settings").get("event_payload_key",
                                                                        "value")},
                 "event_time_window": form.get("event_time_window"), "status": "active",
                 "livemode": False}
        objects["meters"][meter["id"]] = meter
        return 200, meter

    def list_meters(self, objects, query):
        filters = dict(query)
        limit = integer(filters, "limit") or 10
        meters = [m for m in objects["meters"].values()
                  if "status" not in filters or m["status"] == filters["status"]]
        after = filters.get("starting_after")
        if after:
            ids = [m["id"] for m in meters]
            if after not in ids:
                return no_such("billing.meter", after, "starting_after")
            meters = meters[ids.index(after) + 1:]
        return 200, {"object": "list", "data": meters[:limit], "has_more": len(meters) > limit,
                     "url": "/v1/billing/meters"}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit():
        sys.stderr.write("usage: stripe_fake.py PORT STATE_DIR   (PORT 0: any free port)\n")
        return 2
    os.makedirs(sys.argv[2], exist_ok=True)
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    server.state = State(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
