#!/usr/bin/env bash
# The guide's verification code works (docs/guides/webhooks.md): its
# ```python and ```js blocks are taken out of the guide as written and run
# against a message signed here, independently, as the Standard Webhooks
# specification says (HMAC-SHA256 of "id.timestamp.body" keyed with the
# base64-decoded secret after whsec_): the message verifies; a changed
# body, a signature made with another secret, and a timestamp ten minutes
# old do not; a header listing two signatures (a rotation) verifies when
# either one is right. No running suite is needed.
. "$(dirname "$0")/lib/suite.sh"
suite_init

guide=$SUITE_ROOT/docs/guides/webhooks.md
block () {     # block LANG: the first fenced block of that language
    awk -v lang="$1" '$0 == "```" lang {on = 1; next} on && $0 == "```" {exit} on' "$guide"
}
block python > "$SUITE_TMP/guide_verify.py"
block js > "$SUITE_TMP/guide_verify.mjs"
t_ok "the guide has a Python block defining verify" grep -q '^def verify' "$SUITE_TMP/guide_verify.py"
t_ok "the guide has a JavaScript block exporting verify" grep -q 'export function verify' "$SUITE_TMP/guide_verify.mjs"

# Messages signed here: id, timestamp, body, header, and the expected verdict.
"$SUITE_PYTHON" - "$SUITE_TMP/cases.json" <<'PY'
import base64, hashlib, hmac, json, os, sys, time
def secret():
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()
def sign(sec, mid, ts, body):
    key = base64.b64decode(sec[len("whsec_"):])
    mac = hmac.new(key, f"{mid}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()
good, other = secret(), secret()
now = int(time.time())
body = b'{"type":"call.created","timestamp":"2026-12-03T10:00:00Z","data":{"id":"c1"}}'
cases = []
def case(name, ts, sig_header, sent_body, want):
    cases.append({"name": name, "secret": good,
                  "headers": {"webhook-id": "msg_2Lh0Sx8vA7", "webhook-timestamp": str(ts),
                              "webhook-signature": sig_header},
                  "body": base64.b64encode(sent_body).decode(), "want": want})
s = sign(good, "msg_2Lh0Sx8vA7", now, body)
case("a message signed with the secret", now, s, body, True)
case("the body changed", now, s, body.replace(b"c1", b"c2"), False)
case("signed with another secret", now, sign(other, "msg_2Lh0Sx8vA7", now, body), body, False)
old = now - 600
case("ten minutes old", old, sign(good, "msg_2Lh0Sx8vA7", old, body), body, False)
case("two signatures, the second right", now,
     sign(other, "msg_2Lh0Sx8vA7", now, body) + " " + s, body, True)
json.dump(cases, open(sys.argv[1], "w"))
PY

py_out=$(cd "$SUITE_TMP" && "$SUITE_PYTHON" -c '
import base64, json, sys
sys.path.insert(0, ".")
from guide_verify import verify
for c in json.load(open("cases.json")):
    got = verify(c["secret"], c["headers"], base64.b64decode(c["body"]))
    print(c["name"], got == c["want"])
' 2>&1)
js_out=$(cd "$SUITE_TMP" && node --input-type=module -e '
import { readFileSync } from "node:fs";
import { verify } from "./guide_verify.mjs";
for (const c of JSON.parse(readFileSync("cases.json", "utf8"))) {
    const got = verify(c.secret, c.headers, Buffer.from(c.body, "base64"));
    console.log(c.name, got === c.want ? "True" : "False");
}' 2>&1)
while IFS= read -r name; do
    t_ok "Python: $name" grep -Fxq "$name True" <<<"$py_out"
    if command -v node >/dev/null; then
        t_ok "JavaScript: $name" grep -Fxq "$name True" <<<"$js_out"
    else
        t_skip_one "JavaScript: $name" "no node (deploy/local/deps.sh test installs it)"
    fi
done < <("$SUITE_PYTHON" -c 'import json,sys; [print(c["name"]) for c in json.load(open(sys.argv[1]))]' "$SUITE_TMP/cases.json")
t_done
