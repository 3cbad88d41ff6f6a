/*  tenant_ssrf.c — which webhook URLs tenant-svc may connect to.

    A webhook URL is chosen by a customer and fetched by us from inside our
    network: without a check, "https://169.254.169.254/..." or a name that
    resolves to 10.0.0.5 would make the delivery thread a probe of our own
    infrastructure (server-side request forgery). So a URL must be https,
    name a host and carry no user information, and EVERY address its host
    resolves to must be public: not loopback, private (RFC 1918), shared
    (CGNAT 100.64/10), link-local (169.254/16, the cloud metadata address
    included), "this network" 0/8, multicast, reserved, broadcast or a
    documentation/benchmark range; for IPv6 not ::1, ::, fc00::/7,
    fe80::/10, fec0::/10, ff00::/8, the documentation and benchmarking
    ranges 2001:db8::/32, 3fff::/20 and 2001:2::/48, Teredo 2001::/32
    (an IPv4 client behind a relay), and the IPv4 forms
    carried inside IPv6 (v4-mapped ::ffff:0:0/96, v4-compatible ::/96,
    NAT64 64:ff9b::/96, 6to4 2002::/16) are judged as their IPv4 address.

    The check runs at registration and again before every connection; the
    delivery then pins curl to the address checked (CURLOPT_RESOLVE with
    the target's entry), so that a DNS answer that changes between the
    check and the connection (rebinding) cannot send it elsewhere. Odd
    spellings of addresses ("2130706433", "0x7f.1") are caught because the
    addresses judged are those the resolver returns, not the text.

    With allow_private (SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1: tests and
    development) http is allowed and any address passes.

    Failure modes: a name that does not resolve is refused (1, why says
    so); resolution blocks the calling thread for as long as the system
    resolver takes.
*/
#include "tenant_webhooks.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>

static bool
s_v4_public (uint32_t a)
{
    //  Network, mask bits.
    static const struct { uint32_t net; int bits; } s_refused [] = {
        { 0x00000000, 8 },          //  0/8 "this network"
        { 0x0A000000, 8 },          //  10/8
        { 0x64400000, 10 },         //  100.64/10 CGNAT
        { 0x7F000000, 8 },          //  127/8 loopback
        { 0xA9FE0000, 16 },         //  169.254/16 link-local, metadata
        { 0xAC100000, 12 },         //  172.16/12
        { 0xC0000000, 24 },         //  192.0.0/24 protocol assignments
        { 0xC0000200, 24 },         //  192.0.2/24 TEST-NET-1
        { 0xC0586300, 24 },         //  192.88.99/24 6to4 relay
        { 0xC0A80000, 16 },         //  192.168/16
        { 0xC6120000, 15 },         //  198.18/15 benchmarking
        { 0xC6336400, 24 },         //  198.51.100/24 TEST-NET-2
        { 0xCB007100, 24 },         //  203.0.113/24 TEST-NET-3
        { 0xE0000000, 4 },          //  224/4 multicast
        { 0xF0000000, 4 },          //  240/4 reserved, broadcast
    };
    for (size_t i = 0; i < sizeof (s_refused) / sizeof (s_refused [0]); i++) {
        uint32_t mask = 0xFFFFFFFFu << (32 - s_refused [i].bits);
        if ((a & mask) == s_refused [i].net)
            return false;
    }
    return true;
}

static uint32_t
s_v4_at (const uint8_t *p)
{
    return (uint32_t) p [0] << 24 | (uint32_t) p [1] << 16 | (uint32_t) p [2] << 8 | p [3];
}

static bool
s_v6_public (const uint8_t *a)
{
    static const uint8_t zero [16] = { 0 };
    static const uint8_t mapped [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
    static const uint8_t nat64 [12] = { 0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0 };
    if (memcmp (a, zero, 12) == 0)              //  ::, ::1, v4-compatible
        return false;
    if (memcmp (a, mapped, 12) == 0 || memcmp (a, nat64, 12) == 0)
        return s_v4_public (s_v4_at (a + 12));
    if (a [0] == 0x20 && a [1] == 0x02)         //  6to4: 2002:AABB:CCDD::/48
        return s_v4_public (s_v4_at (a + 2));
    if ((a [0] & 0xFE) == 0xFC)                 //  fc00::/7 unique local
        return false;
    if (a [0] == 0xFE && (a [1] & 0xC0) == 0x80)    //  fe80::/10 link-local
        return false;
    if (a [0] == 0xFE && (a [1] & 0xC0) == 0xC0)    //  fec0::/10 site-local
        return false;
    if (a [0] == 0xFF)                          //  multicast
        return false;
    if (a [0] == 0x20 && a [1] == 0x01 && a [2] == 0x0D && a [3] == 0xB8)
        return false;                           //  2001:db8::/32 documentation
    if (a [0] == 0x3F && a [1] == 0xFF && (a [2] & 0xF0) == 0)
        return false;                           //  3fff::/20 documentation (RFC 9637)
    if (a [0] == 0x20 && a [1] == 0x01 && a [2] == 0 && a [3] == 0x02 && a [4] == 0
        && a [5] == 0)
        return false;                           //  2001:2::/48 benchmarking
    if (a [0] == 0x20 && a [1] == 0x01 && a [2] == 0 && a [3] == 0)
        return false;                           //  2001::/32 Teredo: an IPv4 behind a relay
    if ((a [0] & 0xE0) != 0x20)                 //  outside 2000::/3 global unicast
        return false;
    return true;
}

bool
tenant_ssrf_address_public (const struct sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return s_v4_public (ntohl (((const struct sockaddr_in *) address)->sin_addr.s_addr));
    if (address->sa_family == AF_INET6)
        return s_v6_public (((const struct sockaddr_in6 *) address)->sin6_addr.s6_addr);
    return false;
}

static int
s_refuse (char *why, size_t why_size, const char *text)
{
    snprintf (why, why_size, "%s", text);
    return 1;
}

//  How far s_check goes: the URL's form only; the form and every address
//  its host resolves to; the same with IP literals alone (a name is not
//  looked up: refused as not resolving).
typedef enum { S_FORM, S_RESOLVE, S_LITERAL } s_mode_t;

//  The checks of url that need no name resolution; with S_RESOLVE or
//  S_LITERAL, also the addresses of its host (and *target).
static int
s_check (const char *url, bool allow_private, s_mode_t mode, tenant_ssrf_target_t *target,
         char *why, size_t why_size)
{
    CURLU *parsed = curl_url ();
    char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL;
    int rc = 1;
    if (!parsed || curl_url_set (parsed, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get (parsed, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get (parsed, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        s_refuse (why, why_size, "must be an absolute https URL");
        goto done;
    }
    if (!streq (scheme, "https") && !(allow_private && streq (scheme, "http"))) {
        s_refuse (why, why_size, "must be an https URL");
        goto done;
    }
    if (curl_url_get (parsed, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        s_refuse (why, why_size, "must not carry a user name or password");
        goto done;
    }
    if (mode == S_FORM) {
        rc = 0;
        goto done;
    }
    curl_url_get (parsed, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    //  A bracketed IPv6 literal resolves without its brackets.
    char name [256];
    size_t length = strlen (host);
    if (length >= sizeof (name)) {
        s_refuse (why, why_size, "has a host name that is too long");
        goto done;
    }
    if (host [0] == '[' && length > 2 && host [length - 1] == ']')
        snprintf (name, sizeof (name), "%.*s", (int) length - 2, host + 1);
    else
        snprintf (name, sizeof (name), "%s", host);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = mode == S_LITERAL ? AI_NUMERICHOST : 0 };
    struct addrinfo *found = NULL;
    if (getaddrinfo (name, NULL, &hints, &found) != 0 || !found) {
        s_refuse (why, why_size, "has a host name that does not resolve");
        goto done;
    }
    char first [INET6_ADDRSTRLEN] = "";
    bool refused = false;
    for (struct addrinfo *a = found; a; a = a->ai_next) {
        if (!allow_private && !tenant_ssrf_address_public (a->ai_addr))
            refused = true;
        if (!*first && (a->ai_family == AF_INET || a->ai_family == AF_INET6)) {
            const void *raw = a->ai_family == AF_INET
                                  ? (const void *) &((struct sockaddr_in *) a->ai_addr)->sin_addr
                                  : (const void *) &((struct sockaddr_in6 *) a->ai_addr)->sin6_addr;
            inet_ntop (a->ai_family, raw, first, sizeof (first));
        }
    }
    freeaddrinfo (found);
    if (refused || !*first) {
        s_refuse (why, why_size,
                  "must resolve to public addresses only (not loopback, private, link-local or "
                  "reserved)");
        goto done;
    }
    //  An IPv6 literal needs no pinning (nothing is resolved) and cannot
    //  be written as a CURLOPT_RESOLVE name: no entry.
    if (target && strchr (name, ':'))
        target->resolve [0] = 0;
    else
    if (target) {
        bool six = strchr (first, ':') != NULL;
        int n = snprintf (target->resolve, sizeof (target->resolve), "%s:%s:%s%s%s", name,
                          port ? port : "443", six ? "[" : "", first, six ? "]" : "");
        if (n < 0 || (size_t) n >= sizeof (target->resolve)) {
            s_refuse (why, why_size, "has a host name that is too long");
            goto done;
        }
    }
    rc = 0;
done:
    curl_free (scheme);
    curl_free (host);
    curl_free (user);
    curl_free (port);
    curl_url_cleanup (parsed);
    return rc;
}

int
tenant_ssrf_check (const char *url, bool allow_private, tenant_ssrf_target_t *target,
                   char *why, size_t why_size)
{
    return s_check (url, allow_private, S_RESOLVE, target, why, why_size);
}

int
tenant_ssrf_check_url (const char *url, bool allow_private, char *why, size_t why_size)
{
    return s_check (url, allow_private, S_FORM, NULL, why, why_size);
}

int
tenant_ssrf_check_literal (const char *url, bool allow_private, tenant_ssrf_target_t *target,
                           char *why, size_t why_size)
{
    return s_check (url, allow_private, S_LITERAL, target, why, why_size);
}

//  Judges an address given as text.
static bool
s_public (const char *text)
{
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
    if (inet_pton (AF_INET, text, &v4.sin_addr) == 1)
        return tenant_ssrf_address_public ((struct sockaddr *) &v4);
    if (inet_pton (AF_INET6, text, &v6.sin6_addr) == 1)
        return tenant_ssrf_address_public ((struct sockaddr *) &v6);
    return false;
}

void
tenant_ssrf_test (bool verbose)
{
    if (verbose)
        printf (" * tenant_ssrf: ");
    static const char *const refused [] = {
        "127.0.0.1", "127.255.255.254", "10.0.0.1", "10.255.255.255", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "169.254.169.254", "169.254.0.1", "100.64.0.1",
        "100.127.255.255", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250",
        "255.255.255.255", "240.0.0.1", "192.0.2.10", "198.18.0.1", "203.0.113.9",
        "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "::127.0.0.1",
        "64:ff9b::a00:1", "2002:a00:1::1", "2001:db8::1", "3fff::1", "3fff:fff::1",
        "2001:2::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", NULL
    };
    for (int i = 0; refused [i]; i++) {
        bool ok = !s_public (refused [i]);
        if (!ok)
            fprintf (stderr, "tenant_ssrf: %s passed\n", refused [i]);
        SB_CHECK (ok);
    }
    static const char *const allowed [] = {
        "8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1",
        "169.253.255.255", "11.0.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8",
        "2002:808:808::1", "3fff:1000::1", "2001:3::1", "2001:2:1::1", NULL
    };
    for (int i = 0; allowed [i]; i++) {
        bool ok = s_public (allowed [i]);
        if (!ok)
            fprintf (stderr, "tenant_ssrf: %s refused\n", allowed [i]);
        SB_CHECK (ok);
    }
    //  URLs: literals and a name resolving to loopback, without the network.
    char why [160];
    tenant_ssrf_target_t target;
    SB_CHECK (tenant_ssrf_check ("http://8.8.8.8/x", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("ftp://8.8.8.8/x", true, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("not a url", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://user:pw@8.8.8.8/", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://127.0.0.1/hook", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://localhost/hook", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://2130706433/hook", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://[::1]/hook", false, NULL, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://[::ffff:7f00:1]/", false, NULL, why, sizeof (why)) == 1);
    //  Without resolving: the form only (the address is judged as curl
    //  opens its socket).
    SB_CHECK (tenant_ssrf_check_url ("https://localhost/hook", false, why, sizeof (why)) == 0);
    SB_CHECK (tenant_ssrf_check_url ("http://8.8.8.8/x", false, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check_url ("https://user:pw@8.8.8.8/", false, why, sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check_url ("http://127.0.0.1:9/", true, why, sizeof (why)) == 0);
    SB_CHECK (tenant_ssrf_check ("https://169.254.169.254/latest", false, NULL, why,
                                 sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check ("https://8.8.8.8/hook", false, &target, why, sizeof (why)) == 0);
    SB_CHECK (streq (target.resolve, "8.8.8.8:443:8.8.8.8"));
    SB_CHECK (tenant_ssrf_check ("https://[2606:4700::1]:8443/", false, &target, why,
                                 sizeof (why)) == 0);
    SB_CHECK (streq (target.resolve, ""));
    SB_CHECK (tenant_ssrf_check ("http://127.0.0.1:9/hook", true, &target, why, sizeof (why)) == 0);
    SB_CHECK (streq (target.resolve, "127.0.0.1:9:127.0.0.1"));
    //  IP literals alone, no resolver: a name is refused, any spelling of
    //  an address judged as the address.
    SB_CHECK (tenant_ssrf_check_literal ("https://hooks.example.com/", false, &target, why,
                                         sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check_literal ("https://0x7f.1/", false, &target, why,
                                         sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check_literal ("https://[3fff::1]/", false, &target, why,
                                         sizeof (why)) == 1);
    SB_CHECK (tenant_ssrf_check_literal ("https://134744072/", false, &target, why,
                                         sizeof (why)) == 0);
    SB_CHECK (streq (target.resolve, "8.8.8.8:443:8.8.8.8"));
    if (verbose)
        printf ("OK\n");
}
