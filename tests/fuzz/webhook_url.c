/*  webhook_url.c — libFuzzer harness: the webhook URL check against
    server-side request forgery (tenant-svc/src/tenant_ssrf.c).

    What a stranger controls: the URL of a webhook endpoint (POST
    /v1/webhooks), which tenant-svc then fetches from inside our network.
    The harness runs no resolver and opens no socket: it calls
    tenant_ssrf_check_literal (the check tenant_ssrf_check makes, with the
    host looked up only when it is an IP literal, in whatever spelling the
    system resolver reads as one) and tenant_ssrf_check_url (the form
    alone). An input is a flags byte (bit 0: allow_private) then the URL.
    Properties checked on every input:

      1. A URL the full check accepts, the form check accepts too.
      2. Without allow_private, an accepted URL, re-read by the harness as
         curl will read it when it delivers (curl_url, the parser curl
         connects with): scheme https, no user name and no password, and a
         host that is an IP literal — the harness's own reading: a
         bracketed IPv6 (inet_pton), dotted IPv4 (inet_pton), or the other
         IPv4 spellings resolvers accept (1 to 4 parts, each decimal, 0
         octal or 0x hex, the last filling the remaining bytes; s_aton
         below) — whose address is outside every blocked range of the
         harness's own table (s_blocked_v4/_v6: written as CIDR text,
         IANA's special-purpose registries: loopback, RFC 1918, CGNAT,
         link-local and metadata, this-network, multicast, reserved,
         documentation and benchmarking, IPv6 ULA, link- and site-local,
         and the IPv4 carried in v4-mapped, v4-compatible, NAT64 and 6to4
         addresses judged as IPv4).
      3. The connection is pinned to that address: target.resolve is
         "<host>:<port>:<address>" with the harness's address (an IPv6
         literal needs no pinning: empty).
      4. With allow_private, an accepted URL is http or https.
      5. The address rule itself (tenant_ssrf_address_public, which also
         judges every address a host name resolves to), over raw bytes:
         the input's first 16 bytes after the flags (zeros past its end)
         as an IPv6 address and their first 4 as an IPv4 one. Public
         exactly when the harness's policy says so: IPv4 outside every
         blocked range; IPv6 never in ::/96 (v4-compatible, deprecated),
         as its IPv4 in ::ffff:0:0/96 and 64:ff9b::/96, else only inside
         2000::/3 (global unicast) and outside every blocked range (6to4
         judged by its IPv4). This direction too: nothing public refused.
      6. Nothing crashes, reads out of bounds or leaks.
*/
#include "../../tenant-svc/src/tenant_webhooks.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int LLVMFuzzerInitialize (int *argc, char ***argv);

#define S_URL_MAX 4096

static void
s_fail (const char *what, const char *url)
{
    fprintf (stderr, "webhook_url harness: %s (url '%.300s')\n", what, url);
    abort ();
}

//  ---- the harness's blocked ranges ---------------------------------------------

typedef struct {
    uint8_t net [16];
    int bits;
} s_cidr_t;

static const char *const s_v4_text [] = {
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "255.255.255.255/32", NULL
};
static const char *const s_v6_text [] = {
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32",
    "3fff::/20",                //  documentation (RFC 9637)
    "2001:2::/48",              //  benchmarking (RFC 5180)
    "2001::/32",                //  Teredo: an IPv4 behind the relay
    "100::/64",                 //  discard-only
    NULL
};
//  IPv6 prefixes that carry an IPv4 address in the given byte offset.
static const struct { const char *text; int at; } s_v6_embed_text [] = {
    { "::ffff:0:0/96", 12 }, { "::/96", 12 }, { "64:ff9b::/96", 12 }, { "2002::/16", 2 },
    { NULL, 0 }
};

static s_cidr_t s_v4 [32], s_v6 [32], s_embed [8], s_global, s_compatible, s_mapped, s_nat64;
static int s_embed_at [8];

static void
s_cidr (const char *text, int family, s_cidr_t *out)
{
    char address [64];
    const char *slash = strchr (text, '/');
    snprintf (address, sizeof (address), "%.*s", (int) (slash - text), text);
    memset (out->net, 0, sizeof (out->net));
    if (inet_pton (family, address, out->net) != 1)
        abort ();
    out->bits = atoi (slash + 1);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    for (int i = 0; s_v4_text [i]; i++)
        s_cidr (s_v4_text [i], AF_INET, &s_v4 [i]);
    for (int i = 0; s_v6_text [i]; i++)
        s_cidr (s_v6_text [i], AF_INET6, &s_v6 [i]);
    for (int i = 0; s_v6_embed_text [i].text; i++) {
        s_cidr (s_v6_embed_text [i].text, AF_INET6, &s_embed [i]);
        s_embed_at [i] = s_v6_embed_text [i].at;
    }
    s_cidr ("2000::/3", AF_INET6, &s_global);
    s_cidr ("::/96", AF_INET6, &s_compatible);
    s_cidr ("::ffff:0:0/96", AF_INET6, &s_mapped);
    s_cidr ("64:ff9b::/96", AF_INET6, &s_nat64);
    return 0;
}

static bool
s_in (const uint8_t *address, const s_cidr_t *cidr)
{
    for (int bit = 0; bit < cidr->bits; bit++) {
        int mask = 0x80 >> (bit % 8);
        if ((address [bit / 8] & mask) != (cidr->net [bit / 8] & mask))
            return false;
    }
    return true;
}

static bool
s_blocked_v4 (const uint8_t *a)
{
    for (int i = 0; s_v4_text [i]; i++)
        if (s_in (a, &s_v4 [i]))
            return true;
    return false;
}

static bool
s_blocked_v6 (const uint8_t *a)
{
    for (int i = 0; s_v6_text [i]; i++)
        if (s_in (a, &s_v6 [i]))
            return true;
    for (int i = 0; s_v6_embed_text [i].text; i++)
        if (s_in (a, &s_embed [i]) && s_blocked_v4 (a + s_embed_at [i]))
            return true;
    return false;
}

//  The whole policy for an IPv6 address (property 5).
static bool
s_public_v6 (const uint8_t *a)
{
    if (s_in (a, &s_compatible))
        return false;
    if (s_in (a, &s_mapped) || s_in (a, &s_nat64))
        return !s_blocked_v4 (a + 12);
    return s_in (a, &s_global) && !s_blocked_v6 (a);
}

static void
s_judge_address (const uint8_t *data, size_t size)
{
    uint8_t raw [16] = { 0 };
    memcpy (raw, data, size < 16 ? size : 16);
    char text [INET6_ADDRSTRLEN];
    struct sockaddr_in v4 = { .sin_family = AF_INET };
    memcpy (&v4.sin_addr, raw, 4);
    if (tenant_ssrf_address_public ((const struct sockaddr *) &v4) != !s_blocked_v4 (raw))
        s_fail ("the IPv4 address rule differs from the harness's ranges",
                inet_ntop (AF_INET, raw, text, sizeof (text)));
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };
    memcpy (&v6.sin6_addr, raw, 16);
    if (tenant_ssrf_address_public ((const struct sockaddr *) &v6) != s_public_v6 (raw))
        s_fail ("the IPv6 address rule differs from the harness's policy",
                inet_ntop (AF_INET6, raw, text, sizeof (text)));
}

//  ---- the harness's reading of an IPv4 literal -----------------------------------

//  inet_aton's spellings (inet(3)): a, a.b, a.b.c, a.b.c.d; each part
//  decimal, 0-prefixed octal or 0x-prefixed hex; the last part fills the
//  bytes left. Exactly the text, nothing after it.
static bool
s_aton (const char *text, uint8_t *out)
{
    uint64_t part [4];
    int parts = 0;
    const char *p = text;
    while (true) {
        if (parts == 4 || !(*p >= '0' && *p <= '9'))
            return false;
        int base = 10;
        if (p [0] == '0' && (p [1] == 'x' || p [1] == 'X'))
            base = 16, p += 2;
        else
        if (p [0] == '0')
            base = 8;
        uint64_t v = 0;
        const char *start = p;
        while (true) {
            int d = *p >= '0' && *p <= '9' ? *p - '0'
                  : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10
                  : *p >= 'A' && *p <= 'F' ? *p - 'A' + 10 : 99;
            if (d >= base)
                break;
            v = v * (uint64_t) base + (uint64_t) d;
            if (v > 0xffffffffu)
                return false;
            p++;
        }
        if (base == 16 && p == start && *p != '.' && *p)
            return false;
        part [parts++] = v;
        if (*p == 0)
            break;
        if (*p != '.')
            return false;
        p++;
    }
    uint64_t limit [5] = { 0, 0xffffffffu, 0xffffffu, 0xffffu, 0xffu };
    for (int i = 0; i < parts - 1; i++)
        if (part [i] > 0xff)
            return false;
    if (part [parts - 1] > limit [parts])
        return false;
    uint32_t a = 0;
    for (int i = 0; i < parts - 1; i++)
        a |= (uint32_t) part [i] << (24 - 8 * i);
    a |= (uint32_t) part [parts - 1];
    out [0] = (uint8_t) (a >> 24), out [1] = (uint8_t) (a >> 16);
    out [2] = (uint8_t) (a >> 8), out [3] = (uint8_t) a;
    return true;
}

//  ---- the properties -----------------------------------------------------------

static void
s_judge_accepted (const char *url, const tenant_ssrf_target_t *target)
{
    CURLU *u = curl_url ();
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    if (curl_url_set (u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get (u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
        || curl_url_get (u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        s_fail ("accepted a URL curl cannot read", url);
    if (strcmp (scheme, "https"))
        s_fail ("accepted a scheme other than https", url);
    if (curl_url_get (u, CURLUPART_USER, &user, 0) == CURLUE_OK
        || curl_url_get (u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
        s_fail ("accepted a URL carrying user information", url);
    size_t n = strlen (host);
    uint8_t address [16];
    char text [INET6_ADDRSTRLEN];
    if (n > 2 && host [0] == '[' && host [n - 1] == ']') {
        char inner [256];
        snprintf (inner, sizeof (inner), "%.*s", (int) (n - 2), host + 1);
        inner [strcspn (inner, "%")] = 0;
        if (inet_pton (AF_INET6, inner, address) != 1)
            s_fail ("accepted a bracketed host that is no IPv6 address", url);
        if (s_blocked_v6 (address))
            s_fail ("accepted a blocked IPv6 address", url);
        if (target->resolve [0])
            s_fail ("an IPv6 literal was given a resolve entry", url);
    }
    else {
        if (inet_pton (AF_INET, host, address) != 1 && !s_aton (host, address))
            s_fail ("accepted a host that is no IP literal the harness reads", url);
        if (s_blocked_v4 (address))
            s_fail ("accepted a blocked IPv4 address", url);
        inet_ntop (AF_INET, address, text, sizeof (text));
        //  "<host>:<port>:<address>"
        const char *last = strrchr (target->resolve, ':');
        size_t host_len = strlen (host);
        if (!last || strcmp (last + 1, text) || strncmp (target->resolve, host, host_len)
            || target->resolve [host_len] != ':')
            s_fail ("the pinned address is not the address judged", url);
    }
    curl_free (scheme);
    curl_free (host);
    curl_free (user);
    curl_free (password);
    curl_url_cleanup (u);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > S_URL_MAX)
        return 0;
    bool allow_private = data [0] & 1;
    s_judge_address (data + 1, size - 1);
    char *url = (char *) malloc (size);
    memcpy (url, data + 1, size - 1);
    url [size - 1] = 0;
    char why [200];
    tenant_ssrf_target_t target;
    memset (&target, 0x55, sizeof (target));
    target.resolve [sizeof (target.resolve) - 1] = 0;
    int literal = tenant_ssrf_check_literal (url, allow_private, &target, why, sizeof (why));
    int form = tenant_ssrf_check_url (url, allow_private, why, sizeof (why));
    if ((literal != 0 && literal != 1) || (form != 0 && form != 1))
        s_fail ("returned neither 0 nor 1", url);
    if (literal == 0 && form != 0)
        s_fail ("the full check accepted what the form check refuses", url);
    if (literal == 0 && !allow_private)
        s_judge_accepted (url, &target);
    if (literal == 0 && allow_private) {
        CURLU *u = curl_url ();
        char *scheme = NULL;
        if (curl_url_set (u, CURLUPART_URL, url, 0) != CURLUE_OK
            || curl_url_get (u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK
            || (strcmp (scheme, "https") && strcmp (scheme, "http")))
            s_fail ("allow_private accepted a URL that is not http or https", url);
        curl_free (scheme);
        curl_url_cleanup (u);
    }
    free (url);
    return 0;
}
