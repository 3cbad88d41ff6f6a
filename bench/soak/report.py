#!/usr/bin/python3
"""bench/soak/report.py OUT — the soak's report (Markdown on stdout) from
OUT/result.json (load.py reconcile), OUT/faults.jsonl, OUT/memory.tsv and
OUT/env.md.

Memory: memory.tsv has one RSS sample of every process a minute (minute,
process, pid, rss_kib). A process is one (name, pid): a worker killed and
started again is a new process. For each process that lived at least ten
minutes, its growth is that of its floor: the lowest of its last five
samples against the lowest of minutes 5 to 9 of its life (the first minutes
fill caches and pools; a single sample can catch a password hash's 19 MiB);
the growth allowed is 10 %. Shorter lives are listed without a verdict.
"""
import json
import os
import sys

GROWTH_LIMIT = 10.0


def main():
    out = sys.argv[1]
    r = json.load(open(os.path.join(out, "result.json")))
    faults = [json.loads(x) for x in open(os.path.join(out, "faults.jsonl")) if x.strip()]
    series = {}
    with open(os.path.join(out, "memory.tsv")) as f:
        next(f)
        for line in f:
            m, name, pid, rss = line.split("\t")
            series.setdefault((name, pid), []).append((int(m), int(rss)))
    env = open(os.path.join(out, "env.md")).read() if os.path.exists(
        os.path.join(out, "env.md")) else ""

    p = print
    p("# make soak: %s" % os.path.basename(out))
    p()
    p("Verdict: **%s**." % ("clean: 0 lost, 0 duplicated, no broken contract" if r["ok"]
                            else "FAILED (see below)"))
    p()
    p("## Requests by outcome (every attempt, as the client saw it)")
    p()
    p("| outcome | requests |")
    p("| --- | ---: |")
    for k, v in r["outcomes"].items():
        p("| %s | %d |" % (k, v))
    p("| total | %d |" % r["requests"])
    p("| answered after the route's deadline + 1 s | %d |" % r["late"])
    p()
    if r["other_examples"]:
        p("Other answers (first five): `%s`" % json.dumps(r["other_examples"]))
        p()
    lat = r["latency_ms"]
    p("## Latency of 2xx answers (ms)")
    p()
    p("| phase | answers | p50 | p99 |")
    p("| --- | ---: | ---: | ---: |")
    p("| calm | %d | %s | %s |" % (lat["calm"]["n"], lat["calm"]["p50"], lat["calm"]["p99"]))
    p("| during a fault (+10 s) | %d | %s | %s |" % (lat["faults"]["n"], lat["faults"]["p50"],
                                                    lat["faults"]["p99"]))
    p()
    p("## Faults injected")
    p()
    kinds = {}
    for f in faults:
        kinds.setdefault(f["kind"], []).append(f)
    p("| fault | times | targets |")
    p("| --- | ---: | --- |")
    for k, fs in sorted(kinds.items()):
        p("| %s | %d | %s |" % (k, len(fs), ", ".join(sorted(set(f["target"] for f in fs)))))
    p()
    c = r["checks"]
    p("## Acknowledged writes")
    p()
    p("| what | acknowledged | lost | duplicated |")
    p("| --- | ---: | ---: | ---: |")
    for k in ("calls", "orders", "usage_events"):
        p("| %s | %d | %d | %d |" % (k.replace("_", " "), c[k]["acknowledged"], c[k]["lost_count"],
                                     c[k]["duplicated_count"]))
    p("| webhook deliveries (acknowledged calls and orders) | %d | %d undelivered | |"
      % (c["webhooks"]["expected"], c["webhooks"]["undelivered"]))
    p("| subscription states (newest Stripe event acknowledged) | %d | %d wrong | |"
      % (c["subscriptions"]["checked"], c["subscriptions"]["wrong"]))
    p()
    p("Lost: **%d**. Duplicated: **%d**. Another organization's row in a list: **%d**. "
      "Counters against their recomputation (usage.verify, analytics.verify): **%s**."
      % (r["lost"], r["duplicated"], r["isolation_breaches"],
         "equal" if r["verify_ok"] else "DIFFERENT"))
    p()
    p("## Memory (RSS, MiB)")
    p()
    p("| process | pid | minutes | floor, minutes 5-9 | last | growth of the floor |")
    p("| --- | --- | ---: | ---: | ---: | ---: |")
    worst = 0.0
    for (name, pid), s in sorted(series.items()):
        first_m = s[0][0]
        life = s[-1][0] - first_m
        # Floors, not single samples: a sample taken while auth-svc hashes a
        # password holds argon2id's 19 MiB for that moment (seen: one of
        # 36.9 MiB among 17s); growth is the lowest of the last five
        # samples against the lowest of minutes 5 to 9.
        early = [rss for m, rss in s if first_m + 5 <= m < first_m + 10]
        base = min(early) if early else None
        if life >= 10 and base:
            g = (min(rss for _, rss in s[-5:]) - base) * 100.0 / base
            worst = max(worst, g)
            verdict = "%+.1f %%%s" % (g, "" if g <= GROWTH_LIMIT else " **over 10 %**")
        else:
            verdict = "(lived %d min)" % life
        p("| %s | %s | %d | %s | %.1f | %s |" % (name, pid, life,
                                               "%.1f" % (base / 1024.0) if base else "-",
                                               s[-1][1] / 1024.0, verdict))
    p()
    p("Largest growth after the fifth minute: %.1f %% (limit %.0f %%)." % (worst, GROWTH_LIMIT))
    p()
    # Over time: every process's RSS every ten minutes of the run (the
    # sample of that minute, or the nearest after it within the process's
    # life), by name: a name's successive processes share its row.
    last = max((m for s in series.values() for m, _ in s), default=0)
    marks = list(range(0, last + 1, 10)) + ([last] if last % 10 else [])
    p("RSS over time (MiB; a dash: no process of that name then; ¹ a new process since the "
      "column before):")
    p()
    p("| process | " + " | ".join("min %d" % m for m in marks) + " |")
    p("| --- |" + " ---: |" * len(marks))
    names = sorted(set(name for name, _ in series))
    for name in names:
        cells, prev_pid = [], None
        for m in marks:
            best = None
            for (n, pid), s in series.items():
                if n != name:
                    continue
                for mm, rss in s:
                    if mm >= m and mm < m + 10 and (best is None or mm < best[0]):
                        best = (mm, rss, pid)
            if best is None:
                cells.append("-")
            else:
                mark = "¹" if prev_pid is not None and best[2] != prev_pid else ""
                prev_pid = best[2]
                cells.append("%.1f%s" % (best[1] / 1024.0, mark))
        p("| %s | %s |" % (name, " | ".join(cells)))
    p()
    if env:
        p("## Machine and settings")
        p()
        p(env.strip())


if __name__ == "__main__":
    main()
