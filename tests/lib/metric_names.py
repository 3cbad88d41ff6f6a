#!/usr/bin/python3
"""metric_names.py SCRAPE FILE... — the switchboard_* metric names that FILEs
(the Grafana dashboard JSON, the Prometheus rules YAML, read as text) use
but the scrape (Prometheus text format) does not define. A histogram
defines NAME_bucket, NAME_sum and NAME_count. Prints one missing name per
line; exit status 1 when any is missing, 2 when a file uses none at all."""
import re
import sys

scrape, files = sys.argv[1], sys.argv[2:]
defined = set()
for line in open(scrape):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m:
        defined.add(m.group(1))
        if m.group(2) == "histogram":
            defined.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
status = 0
for path in files:
    used = set(re.findall(r"\bswitchboard_[a-z0-9_]*[a-z0-9]", open(path).read()))
    if not used:
        print("%s: no switchboard_ metric at all" % path)
        status = 2
    for name in sorted(used - defined):
        print("%s: %s" % (path, name))
        status = max(status, 1)
sys.exit(status)
