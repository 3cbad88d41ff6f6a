# tests/lib/tenant.sh — helpers for the tenant data tests (t2xxx).
# shellcheck shell=bash
# Source it alone (it sources auth.sh and suite.sh, once each):
#
#   . "$(dirname "$0")/lib/tenant.sh"
#
# Orgs:     new_org PFX              sign up a fresh organization (unique email)
#                                    with signup from auth.sh: sets PFX_AT,
#                                    PFX_OID, ...; status 0 if 201
#           new_orgs PFX...          new_org for each PFX in turn; bails out
#                                    ("cannot sign up organization PFX") at
#                                    the first that fails
#           orgs_with_business PFX...   new_orgs PFX..., then for each PFX in
#                                    turn one business (biz_body) created by
#                                    its admin: sets PFX_BIZ to its id; bails
#                                    out ("PFX cannot create a business") at
#                                    the first that fails
# Bodies:   jedit JSON ARG...        JSON with fields changed: KEY=STRING,
#                                    KEY:=JSON, KEY- (drop the field)
#           biz_body [ARG...]        a valid business body (a new name each
#                                    time) with jedit changes
#           call_body BIZ [ARG...]   a valid call of business BIZ (completed,
#                                    60 s, started an hour ago)
#           order_body BIZ [ARG...]  a valid order of business BIZ (2 x 1250 +
#                                    1 x 199 cents USD, total 2699)
# Create:   create_as TOKEN PATH BODY   POST; on 201 sets NEW_ID and NEW_JSON
#                                    (the body), else both empty and a
#                                    diagnostic; status 0 if 201
# Times:    ts_at SECS               RFC 3339 UTC (…Z, milliseconds) of now +
#                                    SECS (may be negative or fractional)
#           ts_cmp A B               -1, 0 or 1: A before, at, after B (any
#                                    RFC 3339 offsets; exact fractions)
# Lists:    data_ids JSON            the .data[].id of a list answer, a line each
#           walk_ids TOKEN PATH      follow next_cursor from PATH (a query may
#                                    be there, limit included); print every id
#                                    in order; status 1 if a page is not 200 or
#                                    a cursor repeats
#           data_rows JSON KEY       "VALUE-OF-KEY ID" for each of .data, a line
#                                    each
#           urlq STRING              STRING percent-encoded for a query
#           sort_newest              lines "TIMESTAMP ID" on stdin; print the
#                                    IDs newest first (instant, then id,
#                                    descending), as the lists order them
#           list_order_ok JSON KEY   the .data are in (KEY, id) non-increasing
#                                    order (KEY a timestamp field); prints the
#                                    first offence, status 1 if any
#           walk_check WALK PRE MADE the rows of a walk (file WALK: lines
#                                    "PAGE CREATED_AT ID") against the ids of
#                                    file PRE (there before the walk: each
#                                    exactly once) and MADE (created during
#                                    it: at most once); no id twice, (time,
#                                    id) non-increasing. Prints "ok" or the
#                                    problems
# Checks:   t_fields DESC NAME...    the last answer is 400 validation_failed
#                                    and the keys of error.fields are exactly
#                                    NAME... (a key NAME.x or NAME[i]... counts
#                                    as NAME)
#           t_uuid DESC VALUE        VALUE is a lower-case UUID
#           t_utc DESC VALUE         VALUE is an RFC 3339 UTC timestamp
#           t_same_json DESC A B     A and B are the same JSON (key order and
#                                    spacing aside)
#           t_instant DESC A B       A and B are the same instant
#
# Nothing here changes the environment (suite_init turns the per-address
# limit on signups off, so that a test can sign up many organizations).

# Variables set here (NEW_ID and friends) are read by the test scripts.
# shellcheck disable=SC2034

[[ -n ${_TENANT_SH:-} ]] && return 0
_TENANT_SH=1
# shellcheck source=tests/lib/auth.sh
. "$(dirname "${BASH_SOURCE[0]}")/auth.sh"

TENANT_UUID_RE='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
TENANT_UTC_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$'
NEW_ID=
NEW_JSON=
_TENANT_SEQ=0

# (Imports are made where needed: every helper call is a Python start.)
_TENANT_PY='
import json, sys

def instant(s):
    import calendar, re
    from fractions import Fraction
    TS = r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z"
    m = re.match(TS, s or "")
    if not m:
        sys.exit("tenant.sh: not an RFC 3339 timestamp: %r" % (s,))
    y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
    t = Fraction(calendar.timegm((y, mo, d, h, mi, se, 0, 0, 0)))
    if m.group(7):
        t += Fraction(m.group(7)[1:]) / 10 ** (len(m.group(7)) - 1)
    off = m.group(8)
    if off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        t -= sign * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
    return t

def load(text):
    try:
        return json.loads(text)
    except ValueError:
        return None

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "jedit":
    doc = load(args[0])
    for a in args[1:]:
        if a.endswith("-") and "=" not in a:
            doc.pop(a[:-1], None)
            continue
        k, sep, v = a.partition("=")
        if not sep:
            sys.exit("jedit: %r is not KEY=VALUE, KEY:=JSON or KEY-" % a)
        if k.endswith(":"):
            doc[k[:-1]] = json.loads(v)
        else:
            doc[k] = v
    print(json.dumps(doc))
elif cmd == "ts_cmp":
    a, b = instant(args[0]), instant(args[1])
    print((a > b) - (a < b))
elif cmd == "ids":
    doc = load(args[0])
    for row in (doc or {}).get("data") or []:
        print(row.get("id", ""))
elif cmd == "rows":
    doc = load(args[0])
    for row in (doc or {}).get("data") or []:
        print("%s %s" % (row.get(args[1]), row.get("id")))
elif cmd == "urlq":
    import urllib.parse
    print(urllib.parse.quote(args[0], safe=""))
elif cmd == "order":
    doc, key = load(args[0]), args[1]
    rows = (doc or {}).get("data") or []
    for i in range(1, len(rows)):
        a, b = rows[i - 1], rows[i]
        ka, kb = (instant(a.get(key)), a.get("id")), (instant(b.get(key)), b.get("id"))
        if ka < kb:
            print("data[%d] (%s %s) comes before data[%d] (%s %s)"
                  % (i - 1, a.get(key), a.get("id"), i, b.get(key), b.get("id")))
            sys.exit(1)
elif cmd == "sort_newest":
    rows = [l.split() for l in sys.stdin.read().splitlines() if l.strip()]
    for r in sorted(rows, key=lambda r: (instant(r[0]), r[1]), reverse=True):
        print(r[1])
elif cmd == "walk_check":
    rows = [l.split() for l in open(args[0]) if l.strip()]
    pre = open(args[1]).read().split()
    made = set(open(args[2]).read().split())
    ids = [r[2] for r in rows]
    count = {}
    for i in ids:
        count[i] = count.get(i, 0) + 1
    problems = []
    dups = sorted(i for i, n in count.items() if n > 1)
    if dups:
        problems.append("ids seen more than once: " + " ".join(dups))
    missing = [i for i in pre if count.get(i, 0) != 1]
    if missing:
        problems.append("earlier ids not seen exactly once: " + " ".join(missing))
    known = made | set(pre)
    foreign = [i for i in ids if i not in known]
    if foreign:
        problems.append("ids from nowhere: " + " ".join(foreign))
    for a, b in zip(rows, rows[1:]):
        if (instant(a[1]), a[2]) < (instant(b[1]), b[2]):
            problems.append("order broken: page %s %s %s, then page %s %s %s" % tuple(a + b))
            break
    print("\n".join(problems) if problems else "ok")
elif cmd == "fields":
    doc = load(args[0])
    err = doc.get("error") if isinstance(doc, dict) else None
    err = err if isinstance(err, dict) else {}
    print(err.get("code") if isinstance(err.get("code"), str) else "")
    f = err.get("fields")
    if isinstance(f, dict):
        for k in sorted(f):
            print(k)
elif cmd == "same":
    a, b = load(args[0]), load(args[1])
    sys.exit(0 if a is not None and a == b else 1)
else:
    sys.exit("tenant.sh: unknown helper %r" % cmd)
'

_tenant_py () {
    "$SUITE_PYTHON" -c "$_TENANT_PY" "$@"
}

jedit () {
    _tenant_py jedit "$@"
}

ts_at () {
    local off=$1 sign=1 int frac now t
    [[ $off == -* ]] && { sign=-1; off=${off#-}; }
    off=${off#+}
    int=${off%%.*}
    frac=
    [[ $off == *.* ]] && frac=${off#*.}
    frac=${frac}000000
    now=${EPOCHREALTIME/[.,]/}
    t=$((10#$now + sign * (10#${int:-0} * 1000000 + 10#${frac:0:6})))
    TZ=UTC printf '%(%Y-%m-%dT%H:%M:%S)T.%03dZ\n' "$((t / 1000000))" "$((t % 1000000 / 1000))"
}

ts_cmp () {
    _tenant_py ts_cmp "$1" "$2"
}

data_ids () {
    _tenant_py ids "$1"
}

data_rows () {
    _tenant_py rows "$1" "$2"
}

urlq () {
    _tenant_py urlq "$1"
}

sort_newest () {
    _tenant_py sort_newest
}

list_order_ok () {
    _tenant_py order "$1" "$2"
}

# A number that differs on every call, also from subshells and background
# jobs (the microseconds of the clock, plus a count against equal readings).
_tenant_next () {
    local t=${EPOCHREALTIME/[.,]/}
    _TENANT_SEQ=$((_TENANT_SEQ + 1))
    printf '%d%d' "$((10#$t % 10000000000))" "$((_TENANT_SEQ % 10))"
}

new_org () {
    local pfx=$1 n
    n=$(_tenant_next)
    signup "$pfx" "t$n-${pfx,,}@example.com" "$AUTH_PASSWORD" "Owner $pfx" "Org $pfx $n"
}

new_orgs () {
    local pfx
    for pfx in "$@"; do
        new_org "$pfx" || t_bail "cannot sign up organization $pfx"
    done
}

orgs_with_business () {
    local pfx tok
    new_orgs "$@"
    for pfx in "$@"; do
        tok=${pfx}_AT
        create_as "${!tok}" /v1/businesses "$(biz_body)" || t_bail "$pfx cannot create a business"
        printf -v "${pfx}_BIZ" '%s' "$NEW_ID"
    done
}

# The bodies are built without Python when nothing is changed (BIZ must then
# need no JSON escaping, as ids do).
_tenant_body () {
    if (( $# > 1 )); then jedit "$@"; else printf '%s\n' "$1"; fi
}

biz_body () {
    local n
    n=$(_tenant_next)
    _tenant_body "{\"name\": \"Business $n\", \"phone_number\": \"+3314$(printf '%07d' $((n % 10000000)))\", \"timezone\": \"Europe/Paris\"}" "$@"
}

call_body () {
    local biz=$1
    shift
    _tenant_body "{\"business_id\": \"$biz\", \"caller_number\": \"+14155550123\", \"started_at\": \"$(ts_at -3600)\", \"duration_seconds\": 60, \"status\": \"completed\"}" "$@"
}

order_body () {
    local biz=$1
    shift
    _tenant_body "{\"business_id\": \"$biz\", \"customer_name\": \"Ada Customer\", \"currency\": \"USD\", \"items\": [{\"name\": \"Pizza\", \"quantity\": 2, \"unit_price_cents\": 1250}, {\"name\": \"Soda\", \"quantity\": 1, \"unit_price_cents\": 199}]}" "$@"
}

create_as () {
    local tok=$1 path=$2 body=$3
    http_as "$tok" POST "$path" "$body"
    if [[ $HTTP_STATUS == 201 ]]; then
        NEW_JSON=$HTTP_BODY
        NEW_ID=$(json_get "$HTTP_BODY" .id 2>/dev/null)
        [[ -n $NEW_ID ]] && return 0
        t_diag "create_as POST $path: 201 without an id: ${HTTP_BODY:0:300}"
    else
        t_diag "create_as POST $path: HTTP $HTTP_STATUS ${HTTP_BODY:0:300}" "  body sent: ${body:0:300}"
    fi
    NEW_ID=
    NEW_JSON=
    return 1
}

walk_ids () {
    local tok=$1 path=$2 sep='?' cursor='' url pages=0 seen=' '
    [[ $path == *\?* ]] && sep='&'
    while :; do
        url=$path
        [[ -n $cursor ]] && url+="${sep}cursor=$(urlq "$cursor")"
        http_as "$tok" GET "$url"
        if [[ $HTTP_STATUS != 200 ]]; then
            t_diag "walk_ids GET $url: HTTP $HTTP_STATUS ${HTTP_BODY:0:300}"
            return 1
        fi
        data_ids "$HTTP_BODY"
        cursor=$(json_get "$HTTP_BODY" .next_cursor 2>/dev/null)
        [[ -z $cursor || $cursor == null ]] && return 0
        if [[ $seen == *" $cursor "* ]] || (( ++pages > 500 )); then
            t_diag "walk_ids $path: cursor '$cursor' repeats (or over 500 pages)"
            return 1
        fi
        seen+="$cursor "
    done
}

walk_check () {
    _tenant_py walk_check "$1" "$2" "$3"
}

t_fields () {
    local desc=$1 keys=() k n ok extra=() missing=()
    shift
    mapfile -t keys < <(_tenant_py fields "$HTTP_BODY")
    if [[ $HTTP_STATUS != 400 || ${keys[0]:-} != validation_failed ]]; then
        t_fail "$desc: 400 validation_failed" "    expected HTTP 400 with error.code 'validation_failed'" "$(_auth_last)"
        return 1
    fi
    t_pass "$desc: 400 validation_failed"
    keys=("${keys[@]:1}")
    for n in "$@"; do
        ok=0
        for k in "${keys[@]}"; do
            [[ $k == "$n" || $k == "$n".* || $k == "$n"\[* ]] && { ok=1; break; }
        done
        (( ok )) || missing+=("$n")
    done
    for k in "${keys[@]}"; do
        ok=0
        for n in "$@"; do
            [[ $k == "$n" || $k == "$n".* || $k == "$n"\[* ]] && { ok=1; break; }
        done
        (( ok )) || extra+=("$k")
    done
    if (( ${#missing[@]} || ${#extra[@]} )); then
        t_fail "$desc: error.fields names exactly: $*" \
               "    missing: ${missing[*]:-none}; not expected: ${extra[*]:-none}" "$(_auth_last)"
    else
        t_pass "$desc: error.fields names exactly: $*"
    fi
}

t_uuid () {
    t_like "$1" "$2" "$TENANT_UUID_RE"
}

t_utc () {
    t_like "$1" "$2" "$TENANT_UTC_RE"
}

t_same_json () {
    if _tenant_py same "$2" "$3"; then
        t_pass "$1"
    else
        t_fail "$1" "         got: ${2:0:1000}" "    expected: ${3:0:1000}"
    fi
}

t_instant () {
    local c
    if c=$(ts_cmp "$2" "$3" 2>&1) && [[ $c == 0 ]]; then
        t_pass "$1"
    else
        t_fail "$1" "    '$2' is not the instant '$3' ($c)"
    fi
}
