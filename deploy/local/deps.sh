#!/usr/bin/env bash
# deploy/local/deps.sh [run|test] — install the Debian 12 packages Switchboard
# needs, and only those that are missing.
#
#   run   what building and `make run` need (the default)
#   test  the above plus what `make test` needs (prove, python3, ps, ss, killall)
#
# When everything is installed it prints nothing and exits 0, so `make run`
# and `make test` can call it every time. When something is missing it runs
# apt-get as root, or, as a normal user, prints the exact command to run and
# exits 1 (we never call sudo ourselves).
#
# Installing postgresql-15 makes Debian create and maybe start a cluster
# "15/main" on port 5432. Nothing here uses it: `make run` and the tests run
# their own cluster through deploy/local/pg.sh.
set -euo pipefail

mode=${1:-run}

# Libraries and tools for building and running. ca-certificates because libcurl
# talks HTTPS to Stripe and SMTPS, and --no-install-recommends would skip it.
run_pkgs=(
    build-essential pkg-config
    libczmq-dev libzmq3-dev libpq-dev libmsgpack-dev libjwt-dev
    libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libsodium-dev libjansson-dev
    postgresql-15 postgresql-client-15 curl ca-certificates
)
# The build turns docs/openapi.yaml into the JSON the gateway embeds
# (tools/openapi_json.py).
run_pkgs+=(python3 python3-yaml)
# Extra for the test suite: prove (perl), python3 (tests/lib/suite.sh helpers,
# tests/fakes), python3-jwt and python3-cryptography (tests that make and
# check tokens), procps (ps, pgrep), iproute2 (ss, for debugging), psmisc
# (killall, fuser), jq (the guides' examples, run by t0040), prometheus
# (promtool: t0045 checks a scrape of /metrics, t0046 the alerting rules).
# `test` installs run_pkgs too, so libssl-dev is in both.
# nodejs and npm build /docs (make docs: Redoc, marked); chromium (headless)
# loads /docs in t0035 and takes the README's screenshot.
test_pkgs=(perl python3 python3-jwt python3-cryptography procps iproute2 psmisc jq
           nodejs npm chromium prometheus)
# The API reference: responses checked against it (tests/lib/openapi_check.py),
# the document linted (npm ci, then @redocly/cli).
test_pkgs+=(python3-jsonschema)
# The libFuzzer harnesses (tests/fuzz, make fuzz-smoke and make fuzz): clang
# with its fuzzer and sanitizer runtimes.
test_pkgs+=(clang libclang-rt-14-dev)
# ---- issue 15, deployment artifacts (tests/t7001-t7003) ----
# systemd: systemd-analyze verify/security on deploy/systemd (t7001; the
# package is there on most hosts, not always in a container). docker-compose
# (Debian's, 1.29): `docker-compose config -q` parses
# deploy/container/compose.yaml offline, no daemon needed (t7002). The
# Containerfile linter and the Kubernetes schemas come from npm
# (package.json).
test_pkgs+=(systemd docker-compose)

case $mode in
    run)  want=("${run_pkgs[@]}") ;;
    test) want=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
    -h|--help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
        exit 0 ;;
    *)    echo "deps.sh: unknown mode '$mode' (expected run or test)" >&2; exit 2 ;;
esac

# Node.js and npm may come from elsewhere than Debian's packages (NodeSource's
# nodejs bundles npm, and Debian's npm package conflicts with it): what the
# build needs is the two commands, so when both run, neither package is asked
# for.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    kept=()
    for p in "${want[@]}"; do
        [[ $p == nodejs || $p == npm ]] || kept+=("$p")
    done
    want=("${kept[@]}")
fi

# One dpkg-query call for all packages; names dpkg has never heard of are
# simply absent from its output, which counts as missing.
declare -A installed=()
while IFS=$'\t' read -r name status; do
    if [[ $status == installed ]]; then installed[$name]=1; fi
done < <(dpkg-query -W -f='${Package}\t${db:Status-Status}\n' "${want[@]}" 2>/dev/null || true)

missing=()
for p in "${want[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
if (( ${#missing[@]} == 0 )); then exit 0; fi

if (( EUID != 0 )); then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
fi

echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
quiet=()
if [[ ${CI:-} == true ]]; then quiet=(-q); fi
apt-get "${quiet[@]}" update
apt-get "${quiet[@]}" install -y --no-install-recommends "${missing[@]}"
