#!/usr/bin/python3
"""tests/lib/twilio_sign.py — an independent X-Twilio-Signature signer:
the test oracle, written from Twilio's description of the scheme (standard
library only), never from our C.

The signature of a request: base64 of HMAC-SHA1, keyed with the account's
auth token, of the full URL Twilio called followed by each POST parameter,
sorted by name (byte order), as name then value.

Usage:
  twilio_sign.py sign TOKEN URL [NAME=VALUE ...]   prints the signature
  twilio_sign.py form TOKEN URL BODY               the same for a form body
                                                   (application/x-www-form-
                                                   urlencoded, decoded here)
  twilio_sign.py encode NAME=VALUE ...             prints the form body
  twilio_sign.py vectors                           checks Twilio's documented
                                                   vectors; prints "ok"
"""
import base64
import hashlib
import hmac
import sys
import urllib.parse


def signature(token, url, params):
    data = url + "".join(name + value for name, value in
                         sorted(params, key=lambda p: (p[0].encode(), p[1].encode())))
    mac = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def pairs(args):
    out = []
    for arg in args:
        name, _, value = arg.partition("=")
        out.append((name, value))
    return out


def vectors():
    params = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"),
              ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212")]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    got = signature("12345", url, params)
    assert got == "RSOYDt4T1cUTdK1PDd93/VVr8B8=", got
    got = signature("12345", url.replace("mycompany.com", "mycompany.com:443"), params)
    assert got == "kvajT1Ptam85bY51eRf/AJRuM3w=", got
    print("ok")


def main(argv):
    if len(argv) >= 3 and argv[0] == "sign":
        print(signature(argv[1], argv[2], pairs(argv[3:])))
    elif len(argv) == 4 and argv[0] == "form":
        params = urllib.parse.parse_qsl(argv[3], keep_blank_values=True, strict_parsing=False)
        print(signature(argv[1], argv[2], params))
    elif len(argv) >= 1 and argv[0] == "encode":
        print(urllib.parse.urlencode(pairs(argv[1:])))
    elif argv == ["vectors"]:
        vectors()
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
