#!/usr/bin/python3
"""jwt_tool.py -- JWT checks and forgeries for the identity tests.

Run with /usr/bin/python3 (Debian's python3-jwt and python3-cryptography).
Every command prints its result on stdout; on failure it prints a reason on
stderr and exits 1 (2 for a usage error).

  header TOKEN                 the token's header, unverified, as JSON
  claims TOKEN                 the token's claims, unverified, as JSON
  verify JWKS_FILE TOKEN [--iss ISS] [--leeway SECS]
                               verify an ES256 token against a JWKS document
                               alone (the key picked by the header's kid;
                               exp, iat required; aud not checked); prints
                               the claims as JSON
  pem JWKS_FILE [--kid KID]    the public key of the JWKS (the first key, or
                               the one with KID) as a SubjectPublicKeyInfo PEM
  tamper TOKEN --set JSON      the same header and signature with the claims
                               changed (JSON object merged in; null deletes)
  forge ALG [options]          a new token; ALG is one of
        none                   alg "none", empty signature ("h.p.")
        hs256                  HMAC-SHA256 keyed with --secret TEXT or the
                               exact bytes of --secret-file FILE (a JWKS
                               document, a PEM, ...)
        es256                  ECDSA P-256 with the private key --key FILE
                               (PEM, PKCS#8 or SEC1) and --kid KID
        es256-random           ECDSA P-256 with a fresh random key and a
                               random kid (unless --kid is given)
     claims:  --claims JSON (default {}) or --from TOKEN (its claims,
              unverified), then --set JSON merged in (null deletes);
              --iat REL, --nbf REL, --exp REL set those claims to now + REL
              seconds (REL may be negative); --new-jti sets a random jti
     header:  {"alg": ALG, "typ": "at+jwt", "kid": KID}; --typ TYP ("" omits
              it), --kid KID (with none/hs256 too), --header-set JSON merged
              in last (null deletes)
"""

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import sys
import time
import uuid

try:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
except ImportError as e:  # pragma: no cover - a setup problem, said plainly
    sys.stderr.write("jwt_tool: %s (install python3-jwt python3-cryptography)\n" % e)
    sys.exit(2)


class Fail(Exception):
    pass


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)


def segments(token):
    parts = token.strip().split(".")
    if len(parts) < 2:
        raise Fail("not a JWT: %d segment(s)" % len(parts))
    return parts


def decode_segment(seg, what):
    try:
        value = json.loads(b64u_decode(seg))
    except (ValueError, TypeError) as e:
        raise Fail("the %s is not base64url JSON: %s" % (what, e))
    if not isinstance(value, dict):
        raise Fail("the %s is not a JSON object" % what)
    return value


def json_object(text, what):
    try:
        value = json.loads(text)
    except ValueError as e:
        raise Fail("%s is not JSON: %s" % (what, e))
    if not isinstance(value, dict):
        raise Fail("%s is not a JSON object" % what)
    return value


def merge(base, patch):
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def load_jwks(path):
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except (OSError, ValueError) as e:
        raise Fail("cannot read the JWKS %s: %s" % (path, e))
    keys = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(keys, list) or not keys:
        raise Fail("the JWKS has no keys array")
    return keys


def jwk_public_key(jwk_dict):
    try:
        return jwt.PyJWK(jwk_dict, algorithm="ES256").key
    except Exception as e:  # PyJWT raises several kinds
        raise Fail("the JWK %s is not a usable ES256 key: %s" % (dumps(jwk_dict), e))


def pick_jwk(keys, kid):
    if kid is None:
        return keys[0]
    for k in keys:
        if isinstance(k, dict) and k.get("kid") == kid:
            return k
    raise Fail("no key with kid %r in the JWKS (kids: %s)"
               % (kid, ", ".join(repr(k.get("kid")) for k in keys if isinstance(k, dict))))


# ---- commands -----------------------------------------------------------

def cmd_header(args):
    print(dumps(decode_segment(segments(args.token)[0], "header")))


def cmd_claims(args):
    print(dumps(decode_segment(segments(args.token)[1], "payload")))


def cmd_verify(args):
    keys = load_jwks(args.jwks)
    parts = args.token.strip().split(".")
    if len(parts) != 3:
        raise Fail("a JWS compact token has 3 segments, this one %d" % len(parts))
    header = decode_segment(parts[0], "header")
    if header.get("alg") != "ES256":
        raise Fail("header alg is %r, not ES256" % header.get("alg"))
    if "kid" not in header:
        raise Fail("header has no kid")
    jwk_dict = pick_jwk(keys, header["kid"])
    for field, want in (("kty", "EC"), ("crv", "P-256")):
        if jwk_dict.get(field) != want:
            raise Fail("JWK %s is %r, not %r" % (field, jwk_dict.get(field), want))
    key = jwk_public_key(jwk_dict)
    options = {"require": ["exp", "iat"], "verify_aud": False}
    try:
        claims = jwt.decode(args.token.strip(), key, algorithms=["ES256"],
                            issuer=args.iss, leeway=args.leeway, options=options)
    except jwt.PyJWTError as e:
        raise Fail("%s: %s" % (type(e).__name__, e))
    print(dumps(claims))


def cmd_pem(args):
    jwk_dict = pick_jwk(load_jwks(args.jwks), args.kid)
    key = jwk_public_key(jwk_dict)
    sys.stdout.write(key.public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii"))


def cmd_tamper(args):
    parts = segments(args.token)
    claims = decode_segment(parts[1], "payload")
    merge(claims, json_object(args.set, "--set"))
    parts[1] = b64u(dumps(claims).encode())
    print(".".join(parts))


def build_claims(args):
    if args.from_token:
        claims = decode_segment(segments(args.from_token)[1], "payload")
    else:
        claims = json_object(args.claims, "--claims")
    if args.set:
        merge(claims, json_object(args.set, "--set"))
    now = int(time.time())
    for name in ("iat", "nbf", "exp"):
        rel = getattr(args, name)
        if rel is not None:
            claims[name] = now + rel
    if args.new_jti:
        claims["jti"] = str(uuid.uuid4())
    return claims


def build_header(args, alg, kid):
    header = {"alg": alg}
    if args.typ:
        header["typ"] = args.typ
    if kid is not None:
        header["kid"] = kid
    if args.header_set:
        merge(header, json_object(args.header_set, "--header-set"))
    return header


def signing_input(header, claims):
    return (b64u(dumps(header).encode()) + "." + b64u(dumps(claims).encode())).encode("ascii")


def load_private_key(path):
    try:
        with open(path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise Fail("cannot load the private key %s: %s" % (path, e))
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise Fail("%s is not a P-256 private key" % path)
    return key


def cmd_forge(args):
    claims = build_claims(args)
    alg = args.alg
    if alg == "none":
        header = build_header(args, "none", args.kid)
        print(signing_input(header, claims).decode() + ".")
    elif alg == "hs256":
        if args.secret is not None:
            secret = args.secret.encode()
        elif args.secret_file:
            try:
                with open(args.secret_file, "rb") as f:
                    secret = f.read()
            except OSError as e:
                raise Fail("cannot read %s: %s" % (args.secret_file, e))
        else:
            raise Fail("hs256 needs --secret or --secret-file")
        header = build_header(args, "HS256", args.kid)
        msg = signing_input(header, claims)
        # By hand: PyJWT refuses PEM text as an HMAC secret, which is the
        # very attack (algorithm confusion) this token is for.
        sig = hmac.new(secret, msg, hashlib.sha256).digest()
        print(msg.decode() + "." + b64u(sig))
    elif alg in ("es256", "es256-random"):
        if alg == "es256":
            if not args.key or args.kid is None:
                raise Fail("es256 needs --key FILE and --kid KID")
            key, kid = load_private_key(args.key), args.kid
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            kid = args.kid if args.kid is not None else secrets.token_hex(8)
        header = build_header(args, "ES256", kid)
        extra = {k: v for k, v in header.items() if k != "alg"}
        token = jwt.encode(claims, key, algorithm="ES256", headers=extra)
        if isinstance(token, bytes):
            token = token.decode()
        # PyJWT adds typ "JWT" unless told otherwise; make the header exact.
        parts = token.split(".")
        if decode_segment(parts[0], "header") != header:
            msg = signing_input(header, claims)
            sig = jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256).sign(msg, key)
            token = msg.decode() + "." + b64u(sig)
        print(token)
    else:
        raise Fail("unknown algorithm %r" % alg)


def main(argv):
    p = argparse.ArgumentParser(prog="jwt_tool.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("header")
    s.add_argument("token")
    s.set_defaults(fn=cmd_header)
    s = sub.add_parser("claims")
    s.add_argument("token")
    s.set_defaults(fn=cmd_claims)

    s = sub.add_parser("verify")
    s.add_argument("jwks")
    s.add_argument("token")
    s.add_argument("--iss")
    s.add_argument("--leeway", type=int, default=0)
    s.set_defaults(fn=cmd_verify)

    s = sub.add_parser("pem")
    s.add_argument("jwks")
    s.add_argument("--kid")
    s.set_defaults(fn=cmd_pem)

    s = sub.add_parser("tamper")
    s.add_argument("token")
    s.add_argument("--set", required=True)
    s.set_defaults(fn=cmd_tamper)

    s = sub.add_parser("forge")
    s.add_argument("alg", choices=["none", "hs256", "es256", "es256-random"])
    g = s.add_mutually_exclusive_group()
    g.add_argument("--claims", default="{}")
    g.add_argument("--from", dest="from_token")
    s.add_argument("--set")
    s.add_argument("--iat", type=int)
    s.add_argument("--nbf", type=int)
    s.add_argument("--exp", type=int)
    s.add_argument("--new-jti", action="store_true")
    s.add_argument("--kid")
    s.add_argument("--typ", default="at+jwt")
    s.add_argument("--header-set")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--secret")
    g.add_argument("--secret-file")
    s.add_argument("--key")
    s.set_defaults(fn=cmd_forge)

    args = p.parse_args(argv)
    try:
        args.fn(args)
    except Fail as e:
        sys.stderr.write("jwt_tool %s: %s\n" % (args.cmd, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
