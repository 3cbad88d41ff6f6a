#!/usr/bin/python3
"""openapi_json.py — docs/openapi.yaml (the source) to the JSON the gateway embeds.

Usage: openapi_json.py IN.yaml OUT.json

The YAML uses anchors and merge keys (<<) so that shared error sets and
headers are written once; the top-level key `x-anchors` only holds them and
is dropped here. The output is compact, keys in the source's order. Fails
(status 1, a message naming the problem) on a YAML error or a document
without openapi, info or paths; never writes a partial file.
"""
import json
import os
import sys

import yaml


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: openapi_json.py IN.yaml OUT.json\n")
        return 2
    src, out = sys.argv[1], sys.argv[2]
    try:
        with open(src, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        sys.stderr.write("openapi_json: %s: %s\n" % (src, e))
        return 1
    if not isinstance(doc, dict) or not all(k in doc for k in ("openapi", "info", "paths")):
        sys.stderr.write("openapi_json: %s: not an OpenAPI document\n" % src)
        return 1
    doc.pop("x-anchors", None)
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.write("\n")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
