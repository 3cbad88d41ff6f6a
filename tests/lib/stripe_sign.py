#!/usr/bin/python3
"""stripe_sign.py SECRET[,SECRET...] PAYLOAD_FILE [TIMESTAMP] — print a
Stripe-Signature header value for a webhook body.

The tests' independent oracle for billing-svc's signature check, written
from Stripe's documentation ("Verify the events that Stripe sends to your
webhook endpoint", "Verify manually"), not from our C: the signed payload is
the timestamp, the character ".", and the raw body bytes; the signature is
the HMAC-SHA256 of it keyed with the endpoint secret as written ("whsec_..."
included), in lower-case hex; the header is "t=<timestamp>,v1=<sig>", with
one v1 per secret when several are given (as Stripe sends during a secret
roll). TIMESTAMP defaults to now (Unix seconds); PAYLOAD_FILE "-" reads
stdin. The header is printed with a newline (which $(...) strips). Python 3
standard library only.
"""

import hashlib
import hmac
import sys
import time


def sign(secret, timestamp, payload):
    signed = str(timestamp).encode("ascii") + b"." + payload
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def header(secrets, timestamp, payload):
    parts = ["t=%s" % timestamp]
    parts += ["v1=%s" % sign(s, timestamp, payload) for s in secrets]
    return ",".join(parts)


def main(argv):
    if len(argv) not in (3, 4):
        sys.stderr.write("usage: stripe_sign.py SECRET[,SECRET...] PAYLOAD_FILE [TIMESTAMP]\n")
        return 2
    secrets = [s for s in argv[1].split(",") if s]
    if not secrets:
        sys.stderr.write("stripe_sign.py: no secret\n")
        return 2
    if argv[2] == "-":
        payload = sys.stdin.buffer.read()
    else:
        with open(argv[2], "rb") as f:
            payload = f.read()
    timestamp = argv[3] if len(argv) == 4 else str(int(time.time()))
    print(header(secrets, timestamp, payload))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
