#!/usr/bin/python3
"""openapi_check.py — the gateway's real responses against the OpenAPI document.

Usage: openapi_check.py DOCUMENT RESPONSES.jsonl

DOCUMENT is the JSON the gateway embeds (build/<mode>/docs/openapi.json) or
docs/openapi.yaml. RESPONSES.jsonl has one line per response the test's
`http` calls received from the gateway (tests/lib/suite.sh):
{"method", "path" (as requested, query included), "status", "content_type",
"body_b64"}.

Each response is matched to its path template and method in the document;
its status must be one the operation lists (a method the path does not take
must be 405); a JSON body is validated against that status's schema
(jsonschema, draft 2020-12, the document's components resolvable). Paths the
document does not know are skipped (counted), as are curl failures (status
000) and non-JSON bodies (status still checked).

Prints "checked N, skipped M" on stdout, and each mismatch (at most 30,
then a count) on stdout too; exits 1 if there was any, 2 on bad usage or an
unreadable document.
"""
import base64
import json
import re
import sys

import jsonschema

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def load(path):
    with open(path, encoding="utf-8") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml
            doc = yaml.safe_load(f)
            doc.pop("x-anchors", None)
            return doc
        return json.load(f)


def templates(doc):
    """[(regex, template)], literal paths before templated ones."""
    out = []
    for template in doc.get("paths", {}):
        parts = re.split(r"(\{[^/{}]+\})", template)
        rx = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
        out.append((template.count("{"), re.compile(rx + r"\Z"), template))
    out.sort(key=lambda t: t[0])
    return [(rx, template) for _, rx, template in out]


def resolve(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 10:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return None
        node = doc
        for part in ref[2:].split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {})
        seen += 1
    return node


def check(doc, paths, rec, validators):
    """None when rec matches the document, "skip" when it cannot be
    checked, else what is wrong."""
    status = int(rec.get("status") or 0)
    if status == 0:
        return "skip"
    path = rec["path"].split("?", 1)[0].split("#", 1)[0]
    template = next((t for rx, t in paths if rx.match(path)), None)
    if template is None:
        return "skip"
    item = doc["paths"][template]
    method = rec["method"].lower()
    op = item.get(method) or (item.get("get") if method == "head" else None)
    where = "%s %s (%s %s)" % (rec["method"], rec["path"][:120], method.upper(), template)
    if op is None:
        if status != 405:
            return "%s: %d, but the document has no such operation (405 expected)" % (where, status)
        response = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    else:
        responses = op.get("responses", {})
        response = (responses.get(str(status)) or responses.get("%dXX" % (status // 100))
                    or responses.get("default"))
        if response is None:
            return "%s: status %d is not documented (it lists %s)" % (
                where, status, ", ".join(sorted(responses)))
        response = resolve(doc, response) or {}
    body = base64.b64decode(rec.get("body_b64") or "")
    ctype = (rec.get("content_type") or "").split(";", 1)[0].strip().lower()
    if not body or method == "head" or not (ctype == "application/json" or ctype.endswith("+json")):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return "%s: %d: the body is not JSON: %r" % (where, status, body[:120])
    media = (response.get("content") or {}).get("application/json")
    if media is None:
        return "%s: %d: a JSON body, but the document gives this status no JSON content" % (where, status)
    schema = media.get("schema")
    if schema is None:
        return None
    key = json.dumps(schema, sort_keys=True)
    validator = validators.get(key)
    if validator is None:
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                "allOf": [schema], "components": doc.get("components", {})}
        validator = jsonschema.Draft202012Validator(
            root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        validators[key] = validator
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        at = "".join("[%r]" % p for p in e.absolute_path) or "(the body)"
        return "%s: %d: %s: %s; body %s" % (where, status, at, e.message[:300],
                                             body[:300].decode("utf-8", "replace"))
    return None


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: openapi_check.py DOCUMENT RESPONSES.jsonl\n")
        return 2
    try:
        doc = load(sys.argv[1])
    except (OSError, ValueError) as e:
        sys.stderr.write("openapi_check: %s: %s\n" % (sys.argv[1], e))
        return 2
    paths = templates(doc)
    validators = {}
    checked = skipped = 0
    bad = []
    with open(sys.argv[2], encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except ValueError:
                bad.append("line %d of the record is not JSON: %r" % (n, line[:120]))
                continue
            why = check(doc, paths, rec, validators)
            if why == "skip":
                skipped += 1
                continue
            checked += 1
            if why:
                bad.append(why)
    print("checked %d, skipped %d" % (checked, skipped))
    distinct = list(dict.fromkeys(bad))
    for why in distinct[:30]:
        print(why)
    if len(distinct) > 30:
        print("... and %d more" % (len(distinct) - 30))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
