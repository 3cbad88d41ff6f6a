#!/usr/bin/env bash
# deploy/container/, checked without a container engine or a registry (the
# image itself is not built here: that needs debian:12 from a registry):
# - the Containerfile passes dockerfilelint (npm, pinned in package.json)
#   with no finding and no rule turned off; it is multi-stage (build on
#   debian:12, runtime on debian:12-slim), runs as a user that is not root,
#   has a HEALTHCHECK on /healthz, and its runtime stage installs the
#   Debian package of every shared library our binaries load (found with
#   readelf and dpkg on this machine, which is Debian 12 too);
# - compose.yaml parses with Debian's docker-compose (`config -q`, offline,
#   no daemon) without a word of output, and says what the issue asks:
#   PostgreSQL, the gateway with its HTTP port and healthcheck, several
#   workers of each service, the CURVE keys as secrets, and only settings
#   the programs know;
# - the checks can fail: a broken Containerfile and two broken compose
#   files are caught.
. "$(dirname "$0")/lib/suite.sh"
suite_init

src=$SUITE_ROOT/deploy/container
lint=$SUITE_ROOT/node_modules/.bin/dockerfilelint
if [[ ! -x $lint ]]; then
    t_skip_one "dockerfilelint" "node_modules/.bin/dockerfilelint missing (npm ci: package.json)"
else
    out=$(cd "$SUITE_ROOT" && "$lint" -j deploy/container/Containerfile 2>&1)
    t_is "dockerfilelint deploy/container/Containerfile: status 0" "$?" 0 || t_diag "$out"
    t_is "  no finding" "$(json_get "$out" .totalIssues)" 0 || t_diag "$out"
    t_ok "  no .dockerfilelintrc turns a rule off" test ! -e "$src/.dockerfilelintrc" -a ! -e "$SUITE_ROOT/.dockerfilelintrc"
    bad=$SUITE_TMP/Containerfile.bad
    sed -e '0,/apt-get install -y --no-install-recommends/s//apt-get install/' \
        -e 's/^FROM debian:12-slim AS runtime/FROM debian:latest AS runtime/' "$src/Containerfile" >"$bad"
    out=$("$lint" -j "$bad" 2>&1)
    t_isnt "a Containerfile with apt-get install without -y and a :latest base fails" "$?" 0
    t_like "  naming both" "$out" 'latest tag.*|-y.*latest'
fi

cf=$(cat "$src/Containerfile")
t_like "Containerfile: build stage on debian:12" "$cf" $'\nFROM debian:12 AS build\n'
t_like "  runtime stage on debian:12-slim" "$cf" $'\nFROM debian:12-slim AS runtime\n'
t_like "  make MODE=release" "$cf" 'RUN make MODE=release'
t_like "  runs as uid 10001, not root" "$cf" $'\nUSER 10001:10001\n'
t_like "  HEALTHCHECK on the gateway's /healthz" "$cf" 'HEALTHCHECK .*http://127.0.0.1:8080/healthz'
t_like "  the gateway by default" "$cf" $'\nCMD \\["gateway"\\]'

# The runtime stage installs the package of each library the binaries load.
runtime_pkgs=$(sed -n '/^FROM debian:12-slim/,$p' "$src/Containerfile")
missing=()
for b in gateway auth-svc tenant-svc billing-svc usage-svc switchboardctl sb-call; do
    for lib in $(readelf -d "$SB_BIN/$b" | awk '/NEEDED/ { gsub(/[][]/, "", $5); print $5 }'); do
        [[ $lib == libasan* || $lib == libubsan* ]] && continue  # the sanitizer build's own
        pkg=$(dpkg -S "/usr/lib/x86_64-linux-gnu/$lib" "/lib/x86_64-linux-gnu/$lib" 2>/dev/null \
              | head -n1 | cut -d: -f1)
        [[ -z $pkg || $pkg == libc6 ]] && continue   # libc6: in debian:12-slim
        grep -qw -- "$pkg" <<<"$runtime_pkgs" || missing+=("$lib ($pkg)")
    done
done
t_is "the runtime stage installs every library the binaries need (missing)" "${missing[*]}" ""

if ! command -v docker-compose >/dev/null; then
    t_skip_one "compose.yaml" "docker-compose missing (Debian package docker-compose: deploy/local/deps.sh test)"
    t_done
fi
# A copy with the example settings in place of the operator's switchboard.env.
work=$SUITE_TMP/repo/deploy
mkdir -p "$work"
cp -r "$src" "$SUITE_ROOT/deploy/sql" "$work/"
cp "$work/container/switchboard.env.example" "$work/container/switchboard.env"
compose () { (cd "$work/container" && docker-compose -f "$1" "${@:2}" 2>&1); }
out=$(compose compose.yaml config -q)
t_is "docker-compose config -q: status 0" "$?" 0
t_is "  and nothing printed" "$out" ""

report=$(compose compose.yaml config | "$SUITE_PYTHON" -c '
import sys, yaml
d = yaml.safe_load(sys.stdin)
s = d["services"]
print("SERVICES " + " ".join(sorted(s)))
print("GATEWAY_PORTS " + " ".join(str(p.get("target")) + ":" + str(p.get("published")) for p in s["gateway"].get("ports", [])))
print("GATEWAY_HEALTH " + " ".join(s["gateway"]["healthcheck"]["test"]))
for name in ("auth", "tenant", "billing", "usage"):
    w = s[name]
    print("WORKER %s %s %s %s" % (name, w["command"][0], w.get("deploy", {}).get("replicas", 1),
          ",".join(sorted(x["target"] for x in w.get("secrets", [])))))
for name, svc in s.items():
    for k in svc.get("environment", {}) or {}:
        print("SETTING " + k)
')
t_like "the services: postgres, the gateway and four workers" "$report" "SERVICES auth billing gateway postgres tenant usage"
t_like "  the gateway publishes 8080" "$report" "GATEWAY_PORTS 8080:8080"
t_like "  and checks /healthz" "$report" "GATEWAY_HEALTH CMD curl .*/healthz"
for svc in auth tenant billing usage; do
    line=$(grep "^WORKER $svc " <<<"$report")
    secrets=$(printf '%s\n' "$svc.key" "$svc.key_secret" pgpass server.key | LC_ALL=C sort | paste -sd,)
    t_like "  $svc: $svc-svc, two or more replicas, its CURVE key pair, the server's key, its pgpass" \
        "$line" "^WORKER $svc $svc-svc ([2-9]|[1-9][0-9]+) $secrets\$"
done
known=$("$SB_BIN/gateway" --help 2>&1)
unknown=()
for name in $(awk '/^SETTING SWITCHBOARD_/ { print $2 }' <<<"$report" | sort -u); do
    [[ $name =~ ^SWITCHBOARD_(AUTH|TENANT|BILLING|USAGE)_DATABASE_URL$ ]] \
        && name='SWITCHBOARD_<SERVICE>_DATABASE_URL'
    grep -qF "  $name " <<<"$known" || unknown+=("$name")
done
t_is "  every SWITCHBOARD_ setting is one gateway --help lists" "${unknown[*]}" ""

# The check can fail.
sed 's/    restart: on-failure/    restrat: on-failure/' "$work/container/compose.yaml" >"$work/container/bad1.yaml"
out=$(compose bad1.yaml config -q)
t_isnt "a compose file with an unknown key fails" "$?" 0
t_like "  naming it" "$out" "restrat"
sed 's/replicas: 4/replicas: four/' "$work/container/compose.yaml" >"$work/container/bad2.yaml"
out=$(compose bad2.yaml config -q)
t_isnt "a compose file with a replica count that is no number fails" "$?" 0
t_like "  naming it" "$out" "replicas"
t_done
