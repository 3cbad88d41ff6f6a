#!/usr/bin/env bash
# deploy/systemd/, checked without a running suite and without installing
# anything on this machine:
# - every unit (the templates as instances) passes `systemd-analyze verify
#   --man=no` with NO output at all: systemd-analyze prints a misspelt or
#   bad setting as "Failed to parse ..., ignoring" and still exits 0, so
#   the exit code alone proves nothing. It runs with --root on a temporary
#   root holding a copy of the system's units (sysinit.target and the like),
#   ours in etc/systemd/system, and stub executables at the ExecStart paths
#   (usr/local/bin/<program>), since verify checks that each binary exists;
# - every program has a unit and a template, each with Restart=on-failure,
#   the switchboard user, the environment file and the hardening the issue
#   names, and `systemd-analyze security` rates each 2.0 or better;
# - the example environment file names only settings the programs know
#   (`gateway --help`);
# - the check can fail: a unit with a bad value, and our gateway unit with
#   its binary missing, are both caught.
. "$(dirname "$0")/lib/suite.sh"
suite_init

command -v systemd-analyze >/dev/null \
    || t_skip "systemd-analyze missing (Debian package systemd: deploy/local/deps.sh test)"
src=$SUITE_ROOT/deploy/systemd
programs=(gateway auth-svc tenant-svc billing-svc usage-svc)

root=$SUITE_TMP/root
units=$root/etc/systemd/system
mkdir -p "$units" "$root/usr/lib/systemd" "$root/usr/local/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$src"/*.service "$src"/*.target "$units/"
for p in "${programs[@]}"; do
    printf '#!/bin/sh\nexit 0\n' >"$root/usr/local/bin/$p"
    chmod 755 "$root/usr/local/bin/$p"
done

# verify UNIT...: systemd-analyze's output and status, as "OUTPUT\nrc=N".
verify () {
    local out rc
    out=$(cd "$units" && systemd-analyze verify --man=no --root="$root" "$@" 2>&1)
    rc=$?
    printf '%s\nrc=%d' "$out" "$rc"
}

all=(switchboard.target gateway.service)
for p in "${programs[@]}"; do
    [[ $p == gateway ]] && continue
    t_ok "deploy/systemd/$p.service exists" test -f "$src/$p.service"
    t_ok "deploy/systemd/$p@.service exists" test -f "$src/$p@.service"
    all+=("$p.service" "$p@1.service" "$p@4.service")
done
out=$(verify "${all[@]}")
t_is "systemd-analyze verify --man=no: every unit, no output, status 0" "$out" $'\nrc=0' \
    || t_diag "$out"

for f in "$src"/*.service; do
    name=${f##*/}
    missing=()
    for want in 'Restart=on-failure' 'User=switchboard' 'EnvironmentFile=/etc/switchboard/switchboard.env' \
                'NoNewPrivileges=yes' 'ProtectSystem=strict' 'PrivateTmp=yes' 'ProtectHome=yes' \
                'CapabilityBoundingSet=' 'StateDirectory=switchboard' 'PartOf=switchboard.target' \
                'WantedBy=switchboard.target'; do
        grep -qx -- "$want" "$f" || missing+=("$want")
    done
    t_is "$name: restart, user, environment file, hardening (lines missing)" "${missing[*]}" ""
    t_like "$name runs a program from /usr/local/bin" "$(grep '^ExecStart=' "$f")" \
        '^ExecStart=/usr/local/bin/(gateway|auth-svc|tenant-svc|billing-svc|usage-svc)$'
    inst=$name
    [[ $name == *@.service ]] && inst=${name/@.service/@1.service}
    out=$(cd "$units" && systemd-analyze security --offline=yes --root="$root" --threshold=20 --no-pager "$inst" 2>&1)
    t_is "  systemd-analyze security: exposure 2.0 or better" "$?" 0 \
        || t_diag "$(grep 'Overall exposure' <<<"$out")"
done

# The environment file: every SWITCHBOARD_ name in it (set or commented
# out) is a setting the programs list in --help.
known=$("$SB_BIN/gateway" --help 2>&1)
unknown=()
while read -r name; do
    [[ $name =~ ^SWITCHBOARD_(AUTH|TENANT|BILLING|USAGE)_DATABASE_URL$ ]] \
        && name='SWITCHBOARD_<SERVICE>_DATABASE_URL'
    grep -qF "  $name " <<<"$known" || unknown+=("$name")
done < <(grep -oE '^#?SWITCHBOARD_[A-Z_]+=' "$src/switchboard.env" | tr -d '#=' | sort -u)
t_is "switchboard.env names only settings gateway --help lists" "${unknown[*]}" ""
t_like "  with the CURVE settings" "$(cat "$src/switchboard.env")" \
    'SWITCHBOARD_CURVE=on.*SWITCHBOARD_CURVE_DIR.*SWITCHBOARD_CURVE_CERT.*SWITCHBOARD_CURVE_SERVER_CERT.*SWITCHBOARD_CURVE_ALLOW'

# The check can fail.
cat >"$units/broken.service" <<'UNIT'
[Service]
ExecStart=/usr/local/bin/tenant-svc
Restart=sometimes
NoNewPrivileges=yess
UNIT
out=$(verify broken.service)
t_like "a unit with two bad values: systemd-analyze prints them" "$out" "broken.service:3: .*sometimes"
t_like "  (and exits 0 all the same: hence the check on output)" "$out" $'\nrc=0$'
rm "$units/broken.service" "$root/usr/local/bin/gateway"
out=$(verify gateway.service)
t_like "gateway.service with its binary missing is caught" "$out" "/usr/local/bin/gateway is not executable"
t_done
