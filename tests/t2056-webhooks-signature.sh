#!/usr/bin/env bash
# Outbound webhooks, the signature scheme against the Standard Webhooks
# specification's own example (secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,
# id msg_p5jXN8AQM9LWM0D4loKWxJek, timestamp 1614265330, body
# {"test": 2432232314} → v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=):
# both the test's independent verifier (tests/fakes/webhook_receiver.py,
# which every delivery test trusts) and tenant-svc's C (its selftest, with
# the SSRF address classifier's) agree with it; the verifier refuses a
# tampered body, another secret and a malformed header.
. "$(dirname "$0")/lib/suite.sh"
suite_init

verifier () {
    "$SUITE_PYTHON" - "$SUITE_ROOT/tests/fakes" "$@" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import webhook_receiver as w
secret, msg_id, ts, header, body = sys.argv[2:7]
print("%d %d" % w.verify([secret], msg_id, ts, header, body.encode()))
PY
}
S=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
ID=msg_p5jXN8AQM9LWM0D4loKWxJek
SIG=v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
t_is "the verifier accepts the specification's example" \
    "$(verifier "$S" "$ID" 1614265330 "$SIG" '{"test": 2432232314}')" "1 1"
t_is "  among other entries" \
    "$(verifier "$S" "$ID" 1614265330 "v1,AAAA $SIG" '{"test": 2432232314}')" "2 1"
t_is "  refuses a tampered body" \
    "$(verifier "$S" "$ID" 1614265330 "$SIG" '{"test": 2432232315}')" "1 0"
t_is "  another timestamp" \
    "$(verifier "$S" "$ID" 1614265331 "$SIG" '{"test": 2432232314}')" "1 0"
t_is "  another secret" \
    "$(verifier whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx "$ID" 1614265330 "$SIG" '{"test": 2432232314}')" "1 0"
t_is "  an empty header" "$(verifier "$S" "$ID" 1614265330 "" '{"test": 2432232314}')" "0 0"
out=$("$SB_BIN/tenant-svc" --selftest 2>&1)
t_is "tenant-svc's selftest (the signature on the same vector, the SSRF ranges) passes" "$?" 0
t_like "  with no failed check" "$out" ', 0 failed'
t_done
