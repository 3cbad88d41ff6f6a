#!/usr/bin/python3
"""bench/tools/scale.py — the helpers of bench/scale.sh (standard library only).

  scale.py login BASE EMAIL PASSWORD         print a fresh access token
  scale.py walk BASE TOKEN PAGES             walk PAGES pages of GET /v1/calls
                                             ?limit=20, print the next cursor
                                             (URL-quoted; "" if the list ended)
  scale.py sample BASE TOKEN PGLOG N SIZE PATHS.tsv SECONDS
                                             per path (lines "name<TAB>role<TAB>
                                             path"): N sequential GETs (fewer if
                                             they take over SECONDS), then the
                                             PostgreSQL time of each request from
                                             the log lines PostgreSQL wrote
                                             meanwhile; one JSON line a path
  scale.py table RESULTS.jsonl [ORGS.jsonl]  the Markdown tables

Server time (sample): bench/scale.sh turns on log_min_duration_statement = 0
and a log_line_prefix that ends with the virtual transaction id (%v) only
while this runs. A request's statements (its BEGIN, set_config of the
organization, the statements, COMMIT — pipelined, or one implicit
transaction) share one virtual transaction id on one backend, so the time
PostgreSQL spent on the request is the sum of the "duration:" lines (parse,
bind and execute each) of one (pid, vxid) of the service's role (COMMIT's
execute, logged with <backend>/0 once the transaction has ended, goes with
the backend's last transaction). Only
groups that set switchboard.org count (a relay's sweep sets all_orgs), and
the summary says how many groups it found for how many requests.
"""
import http.client
import json
import os
import re
import statistics
import sys
import time
import urllib.parse

LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (\S+)@\S+ (\S+) LOG:  duration: ([0-9.]+) ms  (.*)$")


def conn_for(base):
    u = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)


def get(conn, path, token, strict=True):
    conn.request("GET", path, headers={"Authorization": "Bearer " + token,
                                       "Accept": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200 and strict:
        sys.exit("scale.py: GET %s -> %d %s" % (path, r.status, body[:300].decode(errors="replace")))
    return r.status if not strict else body


def login(base, email, password):
    conn = conn_for(base)
    conn.request("POST", "/v1/auth/login", body=json.dumps({"email": email, "password": password}),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("scale.py: login -> %d %s" % (r.status, body[:300].decode(errors="replace")))
    print(json.loads(body)["access_token"])


def walk(base, token, pages):
    conn, cursor = conn_for(base), None
    for _ in range(int(pages)):
        path = "/v1/calls?limit=20" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        cursor = json.loads(get(conn, path, token)).get("next_cursor")
        if not cursor:
            break
    print(urllib.parse.quote(cursor) if cursor else "")


def percentile(values, p):
    """Nearest rank, as wrk reports."""
    s = sorted(values)
    if not s:
        return None
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def server_times(text, role):
    groups, order, last = {}, [], {}
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m.group(2) != role or m.group(3) in ("", "-"):
            continue
        key = (m.group(1), m.group(3))
        # COMMIT's execute is logged once the transaction has ended
        # (<backend>/0): it belongs to the backend's last transaction.
        if m.group(3).endswith("/0") and m.group(1) in last:
            key = last[m.group(1)]
        last[m.group(1)] = key
        if key not in groups:
            groups[key] = [0.0, False]
            order.append(key)
        groups[key][0] += float(m.group(4))
        if "switchboard.org" in m.group(5):
            groups[key][1] = True
    return [groups[k][0] for k in order if groups[k][1]]


def sample(base, token, pglog, n, size, paths_file, budget):
    conn = conn_for(base)
    n, budget = int(n), float(budget)
    with open(paths_file) as f:
        paths = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    for name, role, path in paths:
        get(conn, path, token, strict=False)        # warm, and out of the window
        time.sleep(0.2)
        start = os.path.getsize(pglog)
        began, times, statuses = time.monotonic(), [], {}
        # n requests, or fewer when they take longer than the budget.
        while len(times) < n and (not times or time.monotonic() - began < budget):
            t0 = time.monotonic()
            status = get(conn, path, token, strict=False)
            times.append((time.monotonic() - t0) * 1e3)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        time.sleep(0.5)                             # the last lines reach the log
        with open(pglog, "rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        t = server_times(text, role)
        print(json.dumps({"kind": "server", "size": int(size), "scenario": name,
                          "requests": len(times), "statuses": statuses,
                          "http_p50_ms": percentile(times, 50), "http_p99_ms": percentile(times, 99),
                          "groups": len(t),
                          "server_p50_ms": percentile(t, 50), "server_p99_ms": percentile(t, 99),
                          "server_mean_ms": statistics.mean(t) if t else None}))
        sys.stdout.flush()


def fmt(v, digits=2):
    return "-" if v is None else ("%.*f" % (digits, v))


def server_cell(v, field):
    """The server time, or why there is none: a request that failed (a 503
    or 504 past the deadline: the worker dropped its connection, and the
    statement's duration is never logged) leaves only partial figures."""
    bad = sorted(k for k in (v.get("statuses") or {}) if k != "200")
    if bad:
        return "n/a (" + "/".join(bad) + ")"
    return fmt(v.get(field)) + " ms"


def http_of(h, v):
    """HTTP p50, p99 and a note: wrk's, or, when wrk finished fewer than 5
    requests in its run (a slow path), the sequential client's of sample,
    marked with its statuses."""
    if (h.get("requests") or 0) >= 5 or v.get("http_p50_ms") is None:
        return h["p50_ms"], h["p99_ms"], ""
    st = ", ".join("%s×%s" % (c, k) for k, c in sorted((v.get("statuses") or {}).items()))
    return v["http_p50_ms"], v["http_p99_ms"], " (sequential: %s)" % st


def table(results, orgs=None):
    rows = [json.loads(l) for l in open(results) if l.strip()]
    http_rows = {(r["size"], r["scenario"]): r for r in rows if r.get("kind") == "http"}
    srv = {(r["size"], r["scenario"]): r for r in rows if r.get("kind") == "server"}
    loads = {r["size"]: r for r in rows if r.get("kind") == "load"}
    sizes = sorted({r["size"] for r in rows if "size" in r and r.get("kind") in ("http", "server")})
    order, labels = [], {}
    # The order of the largest size (where every path ran), then the rest.
    for r in sorted((r for r in rows if r.get("kind") == "http"), key=lambda r: -r["size"]):
        if r["scenario"] not in labels:
            order.append(r["scenario"])
            labels[r["scenario"]] = r["label"]
    out = []
    for size in sizes:
        ld = loads.get(size, {})
        out.append("### %s calls in the organization" % format(size, ","))
        out.append("")
        if ld:
            out.append("%s calls of other organizations in the same tables; %s orders, %s usage events "
                       "of the organization; loaded in %s s (+ VACUUM ANALYZE %s s); database %s"
                       % (format(ld["other_calls"], ","), format(ld["orders"], ","),
                          format(ld["events"], ","), ld["load_s"], ld["vacuum_s"], ld["db_size"]))
            out.append("")
        out.append("| path | server p50 | server p99 | HTTP p50 | HTTP p99 | req/s | errors |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for s in order:
            h, v = http_rows.get((size, s)), srv.get((size, s), {})
            if not h:
                continue
            note = "" if v.get("groups") == v.get("requests") else \
                " (%s groups / %s requests)" % (v.get("groups"), v.get("requests"))
            p50, p99, hnote = http_of(h, v)
            bad = sum(c for k, c in (v.get("statuses") or {}).items() if k != "200")
            out.append("| %s | %s%s | %s | %s ms%s | %s ms | %s | %d |" % (
                labels[s], server_cell(v, "server_p50_ms"), note, server_cell(v, "server_p99_ms"),
                fmt(p50), hnote, fmt(p99), format(round(h["req_s"] or 0), ","),
                h["errors"] + bad))
        out.append("")
    out.append("### How each grows: p50 server / HTTP")
    out.append("")
    out.append("| path | " + " | ".join(format(s, ",") + " calls" for s in sizes) + " |")
    out.append("| --- |" + " ---: |" * len(sizes))
    for s in order:
        cells = []
        for size in sizes:
            h, v = http_rows.get((size, s)), srv.get((size, s), {})
            p50, _, hnote = http_of(h, v) if h else (None, None, "")
            cells.append("%s / %s ms%s" % (server_cell(v, "server_p50_ms"), fmt(p50), hnote))
        out.append("| %s | %s |" % (labels[s], " | ".join(cells)))
    out.append("")
    if orgs:
        orows = [json.loads(l) for l in open(orgs) if l.strip()]
        if orows:
            out.append("### Many organizations: GET /v1/businesses?limit=20, X-API-Key rotating over every organization")
            out.append("")
            out.append("| run | organizations | requests | req/s | HTTP p50 | HTTP p99 | errors | gateway RSS before | after | peak during |")
            out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for r in orows:
                out.append("| %s | %s | %s | %s | %s ms | %s ms | %d | %s MiB | %s MiB | %s MiB |" % (
                    r["run"], format(r["orgs"], ","), format(r.get("requests") or 0, ","),
                    format(round(r["req_s"] or 0), ","), fmt(r["p50_ms"]),
                    fmt(r["p99_ms"]), r["errors"], fmt(r["rss_before_kb"] / 1024, 1),
                    fmt(r["rss_after_kb"] / 1024, 1), fmt(r["rss_peak_kb"] / 1024, 1)))
            out.append("")
    print("\n".join(out))


def main(argv):
    cmds = {"login": (login, 3), "walk": (walk, 3), "sample": (sample, 7), "table": (table, None)}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.exit(__doc__)
    fn, nargs = cmds[argv[1]]
    args = argv[2:]
    if nargs is not None and len(args) != nargs:
        sys.exit(__doc__)
    fn(*args)


if __name__ == "__main__":
    main(sys.argv)
