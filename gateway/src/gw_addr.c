/*  gw_addr.c — who the client of a request is.

    The client is the TCP peer, unless the peer is one of the trusted
    proxies of SWITCHBOARD_TRUSTED_PROXIES (addresses and CIDRs, IPv4 and
    IPv6, comma-separated). A trusted proxy's X-Forwarded-For is read from
    the right, as each proxy appends the peer it saw: trusted proxies are
    skipped, and the first entry that is not one is the client (the entries
    left of it were written by whoever the client is, so they prove
    nothing). An entry that is not an address where we must read it makes
    the whole header worthless: the client is then the TCP peer. When every
    entry is a trusted proxy the leftmost is the client.

    Per-address limits (connections, failed credentials, the auth routes)
    count an IPv4 client by its address and an IPv6 client by its /64, the
    block one subscriber gets: otherwise one host could take 2^64 buckets.
    The envelope (and so the audit log) carries the full address.

    Addresses are parsed with inet_pton only: no names, no zone ids. An
    IPv4-mapped IPv6 address (::ffff:192.0.2.1) is the IPv4 address.
*/
#include "gw.h"
#include <arpa/inet.h>
#include <netinet/in.h>

#define S_PROXIES_MAX 64

struct _gw_proxies_t {
    size_t count;
    struct {
        gw_addr_t net;
        int prefix;                 //  bits that must match
    } items [S_PROXIES_MAX];
};

static const unsigned char s_mapped [12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

//  An IPv4-mapped IPv6 address becomes the IPv4 address.
static void
s_unmap (gw_addr_t *addr)
{
    if (addr->family == AF_INET6 && memcmp (addr->bytes, s_mapped, 12) == 0) {
        memmove (addr->bytes, addr->bytes + 12, 4);
        memset (addr->bytes + 4, 0, 12);
        addr->family = AF_INET;
    }
}

int
gw_addr_parse (gw_addr_t *addr, const char *text)
{
    memset (addr, 0, sizeof (*addr));
    if (inet_pton (AF_INET, text, addr->bytes) == 1)
        addr->family = AF_INET;
    else
    if (inet_pton (AF_INET6, text, addr->bytes) == 1) {
        addr->family = AF_INET6;
        s_unmap (addr);
    }
    else
        return -1;
    return 0;
}

int
gw_addr_from_sockaddr (gw_addr_t *addr, const struct sockaddr *sa)
{
    memset (addr, 0, sizeof (*addr));
    if (sa && sa->sa_family == AF_INET) {
        addr->family = AF_INET;
        memcpy (addr->bytes, &((const struct sockaddr_in *) sa)->sin_addr, 4);
        return 0;
    }
    if (sa && sa->sa_family == AF_INET6) {
        addr->family = AF_INET6;
        memcpy (addr->bytes, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
        s_unmap (addr);
        return 0;
    }
    return -1;
}

void
gw_addr_format (const gw_addr_t *addr, char *buf, size_t size)
{
    if (!addr->family || !inet_ntop (addr->family, addr->bytes, buf, (socklen_t) size))
        snprintf (buf, size, "%s", "");
}

void
gw_addr_key (const gw_addr_t *addr, char *buf, size_t size)
{
    if (addr->family != AF_INET6) {
        gw_addr_format (addr, buf, size);
        return;
    }
    gw_addr_t net = *addr;
    memset (net.bytes + 8, 0, 8);
    char text [INET6_ADDRSTRLEN];
    gw_addr_format (&net, text, sizeof (text));
    snprintf (buf, size, "%s/64", text);
}

//  True when the first prefix bits of a and b are equal (same family).
static bool
s_prefix_equal (const gw_addr_t *a, const gw_addr_t *b, int prefix)
{
    if (a->family != b->family)
        return false;
    int whole = prefix / 8, rest = prefix % 8;
    if (memcmp (a->bytes, b->bytes, (size_t) whole) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char) (0xff << (8 - rest));
    return (a->bytes [whole] & mask) == (b->bytes [whole] & mask);
}

//  Parses "address" or "address/prefix" into item; -1 when not valid.
static int
s_parse_cidr (const char *text, gw_addr_t *net, int *prefix)
{
    char copy [INET6_ADDRSTRLEN + 8];
    if (strlen (text) >= sizeof (copy))
        return -1;
    snprintf (copy, sizeof (copy), "%s", text);
    char *slash = strchr (copy, '/');
    int bits = -1;
    if (slash) {
        *slash++ = 0;
        char *end;
        errno = 0;
        long n = strtol (slash, &end, 10);
        if (errno || end == slash || *end || n < 0 || n > 128 || !isdigit ((unsigned char) *slash))
            return -1;
        bits = (int) n;
    }
    //  Parse without unmapping first, so that a /96+ on a mapped address
    //  keeps its meaning.
    memset (net, 0, sizeof (*net));
    bool six = false;
    if (inet_pton (AF_INET, copy, net->bytes) == 1)
        net->family = AF_INET;
    else
    if (inet_pton (AF_INET6, copy, net->bytes) == 1) {
        net->family = AF_INET6;
        six = true;
    }
    else
        return -1;
    int max = six ? 128 : 32;
    if (bits > max)
        return -1;
    if (bits < 0)
        bits = max;
    if (six && memcmp (net->bytes, s_mapped, 12) == 0 && bits >= 96) {
        s_unmap (net);
        bits -= 96;
    }
    *prefix = bits;
    return 0;
}

gw_proxies_t *
gw_proxies_new (const char *list, char *why, size_t why_size)
{
    gw_proxies_t *self = (gw_proxies_t *) sb_calloc (1, sizeof (gw_proxies_t));
    const char *p = list, *entry;
    size_t end;
    while ((entry = sb_list_next (&p, &end))) {
        char item [128];
        int shown = (int) (end < sizeof (item) ? end : sizeof (item) - 1);
        snprintf (item, sizeof (item), "%.*s", shown, entry);
        if (self->count == S_PROXIES_MAX) {
            snprintf (why, why_size, "SWITCHBOARD_TRUSTED_PROXIES lists more than %d entries",
                      S_PROXIES_MAX);
            gw_proxies_destroy (&self);
            return NULL;
        }
        if (end == 0 || end >= sizeof (item)
            || s_parse_cidr (item, &self->items [self->count].net,
                             &self->items [self->count].prefix)) {
            snprintf (why, why_size,
                      "SWITCHBOARD_TRUSTED_PROXIES: '%.60s' is not an address or CIDR", item);
            gw_proxies_destroy (&self);
            return NULL;
        }
        self->count++;
    }
    return self;
}

void
gw_proxies_destroy (gw_proxies_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

size_t
gw_proxies_count (const gw_proxies_t *self)
{
    return self->count;
}

bool
gw_proxies_trusts (const gw_proxies_t *self, const gw_addr_t *addr)
{
    for (size_t i = 0; i < self->count; i++)
        if (s_prefix_equal (&self->items [i].net, addr, self->items [i].prefix))
            return true;
    return false;
}

//  One X-Forwarded-For entry (spaces around it trimmed): an address, or a
//  bracketed IPv6 address, either with a port. -1 when it is none of these.
static int
s_parse_entry (const char *start, size_t len, gw_addr_t *addr)
{
    while (len && (*start == ' ' || *start == '\t')) {
        start++;
        len--;
    }
    while (len && (start [len - 1] == ' ' || start [len - 1] == '\t'))
        len--;
    char text [INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof (text))
        return -1;
    memcpy (text, start, len);
    text [len] = 0;
    char *host = text;
    if (*host == '[') {
        char *close = strchr (host, ']');
        if (!close || (close [1] && (close [1] != ':' || !close [2]
                                     || strspn (close + 2, "0123456789") != strlen (close + 2))))
            return -1;
        *close = 0;
        host++;
        return gw_addr_parse (addr, host) == 0 && addr->family == AF_INET6 ? 0 : -1;
    }
    char *colon = strchr (host, ':');
    if (colon && !strchr (colon + 1, ':')) {
        //  a.b.c.d:port
        if (!colon [1] || strspn (colon + 1, "0123456789") != strlen (colon + 1))
            return -1;
        *colon = 0;
        return gw_addr_parse (addr, host) == 0 && addr->family == AF_INET ? 0 : -1;
    }
    return gw_addr_parse (addr, host);
}

void
gw_proxies_client (const gw_proxies_t *self, const gw_addr_t *peer, const char *xff,
                   gw_addr_t *client)
{
    *client = *peer;
    if (!xff || !gw_proxies_trusts (self, peer))
        return;
    size_t end = strlen (xff);
    gw_addr_t entry;
    while (true) {
        size_t start = end;
        while (start > 0 && xff [start - 1] != ',')
            start--;
        if (s_parse_entry (xff + start, end - start, &entry)) {
            *client = *peer;
            return;
        }
        *client = entry;
        if (!gw_proxies_trusts (self, &entry) || start == 0)
            return;
        end = start - 1;
    }
}

void
gw_addr_test (bool verbose)
{
    if (verbose)
        printf (" * gw_addr: ");
    gw_addr_t a, b;
    char text [80], why [128];

    //  Parsing and formatting; mapped IPv4 is IPv4.
    SB_CHECK (gw_addr_parse (&a, "192.0.2.10") == 0 && a.family == AF_INET);
    gw_addr_format (&a, text, sizeof (text));
    SB_CHECK (streq (text, "192.0.2.10"));
    SB_CHECK (gw_addr_parse (&a, "::ffff:192.0.2.10") == 0 && a.family == AF_INET);
    gw_addr_format (&a, text, sizeof (text));
    SB_CHECK (streq (text, "192.0.2.10"));
    SB_CHECK (gw_addr_parse (&a, "2001:DB8::1") == 0 && a.family == AF_INET6);
    gw_addr_format (&a, text, sizeof (text));
    SB_CHECK (streq (text, "2001:db8::1"));
    const char *bad [] = { "", "localhost", "192.0.2", "192.0.2.256", "1.2.3.4.5", "::g",
                           "fe80::1%eth0", " 1.2.3.4", "1.2.3.4/32", NULL };
    for (int i = 0; bad [i]; i++)
        SB_CHECK (gw_addr_parse (&a, bad [i]) == -1);
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
    inet_pton (AF_INET6, "::ffff:10.1.2.3", &sin6.sin6_addr);
    SB_CHECK (gw_addr_from_sockaddr (&a, (struct sockaddr *) &sin6) == 0 && a.family == AF_INET);
    gw_addr_format (&a, text, sizeof (text));
    SB_CHECK (streq (text, "10.1.2.3"));

    //  Limit keys: IPv4 by address, IPv6 by /64.
    gw_addr_parse (&a, "2001:db8:1:2:aaaa::1");
    gw_addr_key (&a, text, sizeof (text));
    SB_CHECK (streq (text, "2001:db8:1:2::/64"));
    char other [80];
    gw_addr_parse (&b, "2001:db8:1:2:ffff:ffff:ffff:fffe");
    gw_addr_key (&b, other, sizeof (other));
    SB_CHECK (streq (text, other));
    gw_addr_parse (&b, "2001:db8:1:3::1");
    gw_addr_key (&b, other, sizeof (other));
    SB_CHECK (!streq (text, other));
    gw_addr_parse (&a, "198.51.100.7");
    gw_addr_key (&a, text, sizeof (text));
    SB_CHECK (streq (text, "198.51.100.7"));

    //  CIDR lists.
    gw_proxies_t *none = gw_proxies_new (NULL, why, sizeof (why));
    SB_CHECK (none && gw_proxies_count (none) == 0);
    gw_proxies_t *proxies = gw_proxies_new (
        " 10.0.0.0/8, 192.0.2.1 ,2001:db8:aa::/48,::ffff:172.16.0.0/108,fd00::1", why,
        sizeof (why));
    SB_CHECK (proxies && gw_proxies_count (proxies) == 5);
    if (!proxies || !none)
        return;
    const char *trusted [] = { "10.0.0.1", "10.255.255.255", "192.0.2.1", "2001:db8:aa::5",
                               "2001:db8:aa:ffff::1", "172.16.0.1", "172.31.255.255",
                               "::ffff:10.9.9.9", "fd00::1", NULL };
    const char *untrusted [] = { "11.0.0.1", "9.255.255.255", "192.0.2.2", "2001:db8:ab::5",
                                 "172.32.0.1", "fd00::2", "::a00:1", NULL };
    for (int i = 0; trusted [i]; i++) {
        SB_CHECK (gw_addr_parse (&a, trusted [i]) == 0 && gw_proxies_trusts (proxies, &a));
        SB_CHECK (!gw_proxies_trusts (none, &a));
    }
    for (int i = 0; untrusted [i]; i++)
        SB_CHECK (gw_addr_parse (&a, untrusted [i]) == 0 && !gw_proxies_trusts (proxies, &a));
    const char *bad_lists [] = { "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
                                 "::/129", "10.0.0.0/8,,192.0.2.1", "example.com", "10.0.0.0/ 8",
                                 ",", NULL };
    for (int i = 0; bad_lists [i]; i++) {
        gw_proxies_t *refused = gw_proxies_new (bad_lists [i], why, sizeof (why));
        SB_CHECK (!refused && strstr (why, "SWITCHBOARD_TRUSTED_PROXIES"));
        gw_proxies_destroy (&refused);
    }
    gw_proxies_t *all = gw_proxies_new ("0.0.0.0/0", why, sizeof (why));
    SB_CHECK (all && gw_addr_parse (&a, "203.0.113.9") == 0 && gw_proxies_trusts (all, &a));
    SB_CHECK (gw_addr_parse (&a, "2001:db8::1") == 0 && !gw_proxies_trusts (all, &a));
    gw_proxies_destroy (&all);

    //  X-Forwarded-For: the rightmost entry that is not a trusted proxy.
    struct {
        const char *peer, *xff, *client;
    } cases [] = {
        { "10.0.0.5", "203.0.113.7", "203.0.113.7" },
        { "10.0.0.5", "198.51.100.1, 203.0.113.7", "203.0.113.7" },
        { "10.0.0.5", "198.51.100.1, 203.0.113.7, 10.1.1.1", "203.0.113.7" },
        { "10.0.0.5", "spoofed, 203.0.113.7", "203.0.113.7" },
        { "10.0.0.5", "203.0.113.7:4711", "203.0.113.7" },
        { "10.0.0.5", "[2001:db8:5::9]:443", "2001:db8:5::9" },
        { "10.0.0.5", "2001:db8:5::9", "2001:db8:5::9" },
        { "10.0.0.5", "10.2.2.2, 10.1.1.1", "10.2.2.2" },
        { "10.0.0.5", "::ffff:203.0.113.7", "203.0.113.7" },
        //  Malformed where it is read: the TCP peer.
        { "10.0.0.5", "203.0.113.7, nonsense", "10.0.0.5" },
        { "10.0.0.5", "203.0.113.7,", "10.0.0.5" },
        { "10.0.0.5", "203.0.113.7, 10.1.1.1, ", "10.0.0.5" },
        { "10.0.0.5", "unknown", "10.0.0.5" },
        { "10.0.0.5", "[2001:db8::1", "10.0.0.5" },
        { "10.0.0.5", "[2001:db8::1]:", "10.0.0.5" },
        { "10.0.0.5", "203.0.113.7:x", "10.0.0.5" },
        { "10.0.0.5", "1.2.3.4:5:6", "10.0.0.5" },
        { "10.0.0.5", "", "10.0.0.5" },
        { "10.0.0.5", NULL, "10.0.0.5" },
        //  From a peer that is not trusted the header means nothing.
        { "198.51.100.9", "203.0.113.7", "198.51.100.9" },
        { "198.51.100.9", NULL, "198.51.100.9" },
        { NULL }
    };
    for (int i = 0; cases [i].peer; i++) {
        gw_addr_t peer, client;
        SB_CHECK (gw_addr_parse (&peer, cases [i].peer) == 0);
        gw_proxies_client (proxies, &peer, cases [i].xff, &client);
        gw_addr_format (&client, text, sizeof (text));
        if (!streq (text, cases [i].client) && verbose)
            printf ("\n   xff '%s' from %s: got %s, expected %s", cases [i].xff,
                    cases [i].peer, text, cases [i].client);
        SB_CHECK (streq (text, cases [i].client));
    }
    //  A long header is read from the right whatever its length.
    char *long_xff = (char *) sb_malloc (20000);
    long_xff [0] = 0;
    for (int i = 0; i < 1000; i++)
        strcat (long_xff, "x.x.x.x,");
    strcat (long_xff, "203.0.113.8");
    gw_addr_parse (&a, "10.0.0.5");
    gw_proxies_client (proxies, &a, long_xff, &b);
    gw_addr_format (&b, text, sizeof (text));
    SB_CHECK (streq (text, "203.0.113.8"));
    free (long_xff);

    gw_proxies_destroy (&proxies);
    gw_proxies_destroy (&none);
    SB_CHECK (proxies == NULL);
    if (verbose)
        printf ("OK\n");
}
