/*  gateway_request.c — libFuzzer harness: what the gateway makes of an
    HTTP request, minus the socket.

    What a stranger controls: the request line, the header fields and the
    body of every request to the gateway. libmicrohttpd splits them and
    percent-decodes the path and the query; the harness does the same with
    its own splitter and libmicrohttpd's own MHD_http_unescape ('+' is a
    space in the query). An input is an HTTP/1.1 request written loosely:

        METHOD SP path[?query] LF (Name: value LF)* LF body

    (a line may end in CR LF; "X-Fuzz-Peer: <address>" sets the TCP peer,
    by default a trusted proxy). Then, as gw_http.c does, and with the
    properties checked on every input:

      1. The route (gw_routes_match): the harness's own matcher (split on
         '/', {param} segments, the REST route's last param taking the
         rest) says which route comes first for the method (HEAD is GET),
         or 405 with exactly the methods the path takes, in table order,
         or 404. A matched route's captured params substituted into its
         template give back the path, each 1..GW_PARAM_MAX bytes, without
         '/' except in a REST route's last. The route's body limit is
         GW_MAX_BODY_ANON for an anonymous non-operator route without its
         own, at most GW_MAX_BODY otherwise.
      2. The credential (gw_auth_credential, gw_auth.c): Authorization's
         "Bearer " (any case) value with spaces skipped, non-empty; other
         schemes none; else X-API-Key when non-empty.
      3. The client address (gw_addr.c, with a fixed trusted-proxy list):
         an untrusted peer is the client; from a trusted one, the client is
         the peer or an address some X-Forwarded-For entry spells (bare,
         bracketed, with a port), and not a trusted proxy unless it is the
         leftmost entry. Its text parses back to the same address; its
         limit key is the address itself (IPv4) or its /64 (IPv6).
      4. For a route to a service (not raw): the Idempotency-Key is taken
         exactly when the harness's rule says (POST, 1..255 printable
         ASCII); the body becomes the arguments exactly when it is a JSON
         object nesting at most 16 levels (the harness measures); each
         query then path parameter is set exactly when its name is not
         empty and name and value are valid UTF-8 (the harness's own
         decoder); the arguments then hold the body's members, replaced by
         the last query parameter of each name, replaced by the path's
         parameters, and nothing else.
      5. A raw route (Stripe's and Twilio's webhooks, gw_http_raw_args):
         one map of raw (the body's bytes as bin), signature (the route's
         signature header, first of its name, or nil), path, query (every
         parameter as [name, value], in order) and the path's params, no
         name twice, valid as a frame.
      6. The envelope built from either (sb_envelope_encode_request, as
         s_submit does) decodes as a worker decodes it
         (sb_request_decode): the same head, and the same arguments
         (written back to JSON; byte for byte for a raw route).

    A property that fails aborts; so do ASan and UBSan findings and leaks.
    Inputs over 64 KiB are ignored (bodies that large are refused by the
    limits of 1, which are checked on the size alone).
*/
#include "sb/sb.h"
#include "../../gateway/src/gw.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_MAX_INPUT  65536
#define S_MAX_QUERY  64
#define S_PROXIES    "10.0.0.0/8, 192.0.2.10, 2001:db8:100::/48, ::ffff:172.16.0.0/108"

static gw_proxies_t *s_proxies;
static size_t s_size;                   //  of the input, for messages

static void
s_fail (const char *what)
{
    fprintf (stderr, "gateway_request harness: %s (input of %zu bytes)\n", what, s_size);
    abort ();
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    sb_log_set_level ("error");
    char why [256];
    s_proxies = gw_proxies_new (S_PROXIES, why, sizeof (why));
    if (!s_proxies)
        s_fail (why);
    return 0;
}

//  ---- the request, split as libmicrohttpd would ----------------------

typedef struct {
    char *name, *value;             //  value NULL: "name" without '='
} s_pair_t;

typedef struct {
    char method [32];
    char *path;                     //  decoded
    s_pair_t query [S_MAX_QUERY];
    size_t query_count;
    const char *authorization, *api_key, *idempotency, *request_id, *peer;
    s_pair_t headers [32];          //  the first 32 fields, as sent
    size_t header_count;
    char *xff;                      //  every X-Forwarded-For, joined by ','
    const char *body;
    size_t body_size;
    char *text;                     //  the copy the pointers above point into
} s_request_t;

static void
s_unplus (char *s)
{
    for (; *s; s++)
        if (*s == '+')
            *s = ' ';
}

//  Splits data into req; false when it is not even a request line.
static bool
s_split (const uint8_t *data, size_t size, s_request_t *req)
{
    memset (req, 0, sizeof (*req));
    req->text = (char *) malloc (size + 1);
    memcpy (req->text, data, size);
    req->text [size] = 0;
    char *end = req->text + size;
    char *line = req->text, *eol = memchr (line, '\n', size);
    if (!eol)
        return false;
    *eol = 0;
    if (eol > line && eol [-1] == '\r')
        eol [-1] = 0;
    char *space = strchr (line, ' ');
    if (!space || space == line || (size_t) (space - line) >= sizeof (req->method))
        return false;
    memcpy (req->method, line, (size_t) (space - line));
    char *target = space + 1;
    char *sp = strchr (target, ' ');     //  " HTTP/1.1", when given
    if (sp)
        *sp = 0;
    char *question = strchr (target, '?');
    if (question) {
        *question = 0;
        char *q = question + 1;
        while (q && *q && req->query_count < S_MAX_QUERY) {
            char *amp = strchr (q, '&');
            if (amp)
                *amp = 0;
            char *eq = strchr (q, '=');
            if (eq)
                *eq = 0;
            s_unplus (q);
            MHD_http_unescape (q);
            if (eq) {
                s_unplus (eq + 1);
                MHD_http_unescape (eq + 1);
            }
            req->query [req->query_count++] = (s_pair_t) { q, eq ? eq + 1 : NULL };
            q = amp ? amp + 1 : NULL;
        }
    }
    MHD_http_unescape (target);
    req->path = target;

    //  Header fields up to an empty line; the rest is the body.
    line = eol + 1;
    while (line < end) {
        eol = memchr (line, '\n', (size_t) (end - line));
        char *next = eol ? eol + 1 : end;
        if (eol)
            *eol = 0;
        else
            eol = end;
        if (eol > line && eol [-1] == '\r')
            *--eol = 0;
        if (eol == line) {
            line = next;
            break;
        }
        char *colon = memchr (line, ':', (size_t) (eol - line));
        if (colon) {
            *colon = 0;
            char *value = colon + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            if (req->header_count < 32)
                req->headers [req->header_count++] = (s_pair_t) { line, value };
            if (!strcasecmp (line, "Authorization"))
                req->authorization = value;
            else
            if (!strcasecmp (line, "X-API-Key"))
                req->api_key = value;
            else
            if (!strcasecmp (line, "Idempotency-Key"))
                req->idempotency = value;
            else
            if (!strcasecmp (line, "X-Request-Id"))
                req->request_id = value;
            else
            if (!strcasecmp (line, "X-Fuzz-Peer"))
                req->peer = value;
            else
            if (!strcasecmp (line, "X-Forwarded-For")) {
                size_t have = req->xff ? strlen (req->xff) : 0, add = strlen (value);
                req->xff = (char *) realloc (req->xff, have + add + 2);
                if (have)
                    req->xff [have++] = ',';
                memcpy (req->xff + have, value, add + 1);
            }
        }
        line = next;
    }
    req->body = line < end ? line : NULL;
    req->body_size = line < end ? (size_t) (end - line) : 0;
    return true;
}

//  ---- 1. the route, by the harness's own matcher ---------------------

#define S_SEGMENTS 256          //  more: no route can match (a REST param is 128 bytes)

//  Splits s at every '/' into at most S_SEGMENTS (start, length) pairs:
//  the count, or 0 when there are more.
static size_t
s_segments (const char *s, const char *seg [S_SEGMENTS], size_t len [S_SEGMENTS])
{
    size_t n = 0;
    const char *p = s;
    while (true) {
        if (n == S_SEGMENTS)
            return 0;
        const char *slash = strchr (p, '/');
        seg [n] = p;
        len [n] = slash ? (size_t) (slash - p) : strlen (p);
        n++;
        if (!slash)
            return n;
        p = slash + 1;
    }
}

static bool
s_is_param (const char *seg, size_t len)
{
    return len > 2 && seg [0] == '{' && seg [len - 1] == '}';
}

typedef struct {
    size_t count;
    char value [GW_MAX_PARAMS][GW_PARAM_MAX + 1];
} s_params_t;

static bool
s_template_matches (const gw_route_t *route, const char *path, s_params_t *params)
{
    const char *tseg [S_SEGMENTS], *pseg [S_SEGMENTS];
    size_t tlen [S_SEGMENTS], plen [S_SEGMENTS];
    size_t tn = s_segments (route->path, tseg, tlen), pn = s_segments (path, pseg, plen);
    if (!tn || !pn || path [0] != '/')
        return false;
    bool rest = (route->flags & GW_ROUTE_REST) && s_is_param (tseg [tn - 1], tlen [tn - 1]);
    if (rest ? pn < tn : pn != tn)
        return false;
    params->count = 0;
    for (size_t i = 0; i < tn; i++) {
        size_t len = plen [i];
        if (rest && i == tn - 1)
            len = strlen (pseg [i]);        //  the rest of the path, slashes and all
        if (s_is_param (tseg [i], tlen [i])) {
            if (len == 0 || len > GW_PARAM_MAX || params->count == GW_MAX_PARAMS)
                return false;
            memcpy (params->value [params->count], pseg [i], len);
            params->value [params->count++][len] = 0;
        }
        else
        if (tlen [i] != len || memcmp (tseg [i], pseg [i], len) != 0)
            return false;
    }
    return true;
}

static void
s_check_route (const s_request_t *req, const gw_match_t *m)
{
    const char *wanted = streq (req->method, "HEAD") ? "GET" : req->method;
    const gw_route_t *first = NULL;
    s_params_t params, first_params;
    char allow [256] = "";
    bool any = false;
    for (size_t i = 0; gw_routes_at (i); i++) {
        const gw_route_t *route = gw_routes_at (i);
        if (!s_template_matches (route, req->path, &params))
            continue;
        any = true;
        if (streq (route->method, wanted)) {
            first = route;
            first_params = params;
            break;
        }
        char *at = strstr (allow, route->method);
        size_t n = strlen (route->method);
        if (!(at && (at [n] == ',' || at [n] == 0) && (at == allow || at [-1] == ' ')))
            snprintf (allow + strlen (allow), sizeof (allow) - strlen (allow), "%s%s",
                      *allow ? ", " : "", route->method);
    }
    if (first) {
        if (m->status != 0 || m->route != first)
            s_fail ("the route matched is not the first for this method and path");
        if (m->param_count != first_params.count)
            s_fail ("the params captured are not the template's");
        for (size_t i = 0; i < m->param_count; i++)
            if (!streq (m->params [i].value, first_params.value [i]))
                s_fail ("a param captured is not the path's segment");
    }
    else
    if (any) {
        if (m->status != 405 || m->route)
            s_fail ("a path other methods take is not 405");
        if (strlen (allow) < sizeof (m->allow) && !streq (m->allow, allow))
            s_fail ("405's Allow is not the methods the path takes");
    }
    else
    if (m->status != 404 || m->route)
        s_fail ("a path no route takes is not 404");

    //  A matched route's params, put back into its template, give the path.
    if (m->status == 0) {
        char rebuilt [GW_MAX_PARAMS * (GW_PARAM_MAX + 1) + 512];
        size_t n = 0, k = 0;
        const char *t = m->route->path;
        while (*t) {
            size_t len = strcspn (t, "/");
            if (s_is_param (t, len)) {
                if (k == m->param_count)
                    s_fail ("fewer params than the template has");
                if (strncmp (m->params [k].name, t + 1, len - 2) || m->params [k].name [len - 2])
                    s_fail ("a param's name is not the template's");
                size_t vlen = strlen (m->params [k].value);
                bool last = t [len] == 0 && (m->route->flags & GW_ROUTE_REST);
                if (vlen < 1 || vlen > GW_PARAM_MAX || (!last && strchr (m->params [k].value, '/')))
                    s_fail ("a param is empty, too long, or holds a '/'");
                memcpy (rebuilt + n, m->params [k++].value, vlen);
                n += vlen;
            }
            else {
                memcpy (rebuilt + n, t, len);
                n += len;
            }
            t += len;
            if (*t == '/') {
                rebuilt [n++] = '/';
                t++;
            }
        }
        rebuilt [n] = 0;
        if (k != m->param_count || !streq (rebuilt, req->path))
            s_fail ("the params put back into the template do not give the path");
        size_t limit = gw_route_max_body (m->route);
        bool anonymous = m->route->role == SB_ROLE_NONE && !(m->route->flags & GW_ROUTE_OPERATOR);
        if (limit == 0 || limit > GW_MAX_BODY
            || (!m->route->max_body && limit != (anonymous ? GW_MAX_BODY_ANON : GW_MAX_BODY)))
            s_fail ("the route's body limit breaks the rule");
    }
    gw_match_t head;
    if (streq (req->method, "GET")) {
        gw_routes_match ("HEAD", req->path, &head);
        if (head.status != m->status || head.route != m->route)
            s_fail ("HEAD is not matched as GET");
    }
}

//  ---- 2. the credential ------------------------------------------------

static void
s_check_credential (const s_request_t *req)
{
    const char *got = gw_auth_credential (req->authorization, req->api_key);
    const char *want = NULL;
    if (req->authorization) {
        const char *a = req->authorization;
        if (strlen (a) >= 7 && (a [0] | 32) == 'b' && (a [1] | 32) == 'e' && (a [2] | 32) == 'a'
            && (a [3] | 32) == 'r' && (a [4] | 32) == 'e' && (a [5] | 32) == 'r' && a [6] == ' ') {
            want = a + 7;
            while (*want == ' ')
                want++;
            if (!*want)
                want = NULL;
        }
    }
    else
    if (req->api_key && *req->api_key)
        want = req->api_key;
    if (got != want)
        s_fail ("the credential taken is not the header's");
}

//  ---- 3. the client's address -----------------------------------------

//  True when the XFF entry [start, start + len) spells addr (trimmed; bare,
//  [v6] or [v6]:port, v4:port).
static bool
s_entry_spells (const char *start, size_t len, const gw_addr_t *addr)
{
    while (len && (*start == ' ' || *start == '\t')) {
        start++;
        len--;
    }
    while (len && (start [len - 1] == ' ' || start [len - 1] == '\t'))
        len--;
    char text [128];
    if (len == 0 || len >= sizeof (text))
        return false;
    memcpy (text, start, len);
    text [len] = 0;
    char *host = text;
    if (*host == '[') {
        host++;
        char *close = strchr (host, ']');
        if (!close)
            return false;
        *close = 0;
    }
    else
    if (strchr (host, ':') && strchr (host, ':') == strrchr (host, ':'))
        *strchr (host, ':') = 0;
    gw_addr_t parsed;
    return gw_addr_parse (&parsed, host) == 0 && parsed.family == addr->family
           && memcmp (parsed.bytes, addr->bytes, 16) == 0;
}

static void
s_check_client (const s_request_t *req, char ip [GW_ADDR_TEXT])
{
    gw_addr_t peer, client;
    if (!req->peer || gw_addr_parse (&peer, req->peer))
        gw_addr_parse (&peer, "192.0.2.10");
    gw_proxies_client (s_proxies, &peer, req->xff, &client);
    bool same = client.family == peer.family && memcmp (client.bytes, peer.bytes, 16) == 0;
    if (!gw_proxies_trusts (s_proxies, &peer) && !same)
        s_fail ("an untrusted peer's X-Forwarded-For was believed");
    if (!same) {
        //  Which entry: the rightmost that spells it.
        const char *xff = req->xff;
        size_t end = strlen (xff);
        bool found = false, leftmost = false;
        while (true) {
            size_t start = end;
            while (start > 0 && xff [start - 1] != ',')
                start--;
            if (s_entry_spells (xff + start, end - start, &client)) {
                found = true;
                leftmost = start == 0;
            }
            if (start == 0)
                break;
            end = start - 1;
        }
        //  (leftmost: the last entry looked at, the leftmost, spells it.)
        if (!found)
            s_fail ("the client is neither the peer nor an X-Forwarded-For entry");
        if (gw_proxies_trusts (s_proxies, &client) && !leftmost)
            s_fail ("a trusted proxy taken as the client");
    }
    char key [GW_ADDR_TEXT];
    gw_addr_format (&client, ip, GW_ADDR_TEXT);
    gw_addr_key (&client, key, sizeof (key));
    gw_addr_t back;
    if (gw_addr_parse (&back, ip) || back.family != client.family
        || memcmp (back.bytes, client.bytes, 16) != 0)
        s_fail ("the client's address does not parse back from its text");
    if (client.family == AF_INET && !streq (key, ip))
        s_fail ("an IPv4 client's limit key is not its address");
    if (client.family == AF_INET6) {
        char *slash = strstr (key, "/64");
        if (!slash || slash [3])
            s_fail ("an IPv6 client's limit key is not a /64");
        *slash = 0;
        if (gw_addr_parse (&back, key) || back.family != AF_INET6
            || memcmp (back.bytes, client.bytes, 8) || memcmp (back.bytes + 8, "\0\0\0\0\0\0\0\0", 8))
            s_fail ("an IPv6 client's limit key is not its /64");
    }
}

//  ---- 4. arguments ----------------------------------------------------

//  The harness's own UTF-8 check (no overlongs, no surrogates, <= U+10FFFF).
static bool
s_utf8 (const char *text)
{
    const unsigned char *s = (const unsigned char *) text;
    while (*s) {
        unsigned c = *s;
        int more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                 : (c & 0xf8) == 0xf0 ? 3 : -1;
        if (more < 0)
            return false;
        unsigned cp = more == 0 ? c : more == 1 ? c & 0x1f : more == 2 ? c & 0x0f : c & 0x07;
        for (int i = 1; i <= more; i++) {
            if ((s [i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s [i] & 0x3f);
        }
        static const unsigned least [4] = { 0, 0x80, 0x800, 0x10000 };
        if (cp < least [more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        s += more + 1;
    }
    return true;
}

//  Nesting as gw_http.c counts it: a scalar or an empty container 0, else
//  one more than its deepest member.
static int
s_nesting (json_t *value)
{
    int deepest = -1;
    const char *key;
    json_t *item;
    size_t index;
    if (json_is_object (value))
        json_object_foreach (value, key, item) {
            int d = s_nesting (item);
            deepest = d > deepest ? d : deepest;
        }
    else
    if (json_is_array (value))
        json_array_foreach (value, index, item) {
            int d = s_nesting (item);
            deepest = d > deepest ? d : deepest;
        }
    return deepest + 1;
}

//  The value a name gets from the URL: the path's param, else the last
//  query parameter of that name ("" without '='); NULL when neither.
static const char *
s_url_value (const s_request_t *req, const gw_match_t *m, const char *name)
{
    for (size_t i = 0; i < m->param_count; i++)
        if (streq (m->params [i].name, name))
            return m->params [i].value;
    const char *value = NULL;
    for (size_t i = 0; i < req->query_count; i++)
        if (streq (req->query [i].name, name))
            value = req->query [i].value ? req->query [i].value : "";
    return value;
}

static void
s_check_args (const s_request_t *req, const gw_match_t *m, json_t *args)
{
    char why [256];
    json_t *body = req->body_size ? sb_json_parse (req->body, req->body_size, why, sizeof (why))
                                  : json_object ();
    size_t expected = 0;
    const char *key;
    json_t *value;
    json_object_foreach (body, key, value) {
        const char *url = s_url_value (req, m, key);
        json_t *got = json_object_get (args, key);
        if (url ? !json_is_string (got) || !streq (json_string_value (got), url)
                : !json_equal (got, value))
            s_fail ("a body member is not in the arguments as it should be");
        expected++;
    }
    //  Names from the URL alone, each counted once.
    for (size_t i = 0; i < req->query_count + m->param_count; i++) {
        const char *name = i < req->query_count ? req->query [i].name
                                                : m->params [i - req->query_count].name;
        bool seen = json_object_get (body, name) != NULL;
        for (size_t j = 0; j < i && !seen; j++)
            seen = streq (name, j < req->query_count ? req->query [j].name
                                                     : m->params [j - req->query_count].name);
        if (seen)
            continue;
        json_t *got = json_object_get (args, name);
        if (!json_is_string (got) || !streq (json_string_value (got), s_url_value (req, m, name)))
            s_fail ("a URL parameter is not in the arguments as it should be");
        expected++;
    }
    if (json_object_size (args) != expected)
        s_fail ("the arguments hold more than the body and the URL gave");
    json_decref (body);
}

//  ---- 5. the envelope ---------------------------------------------------

static void
s_check_envelope (const gw_match_t *m, const msgpack_sbuffer *packed, json_t *args,
                  const char *idem, const char *ip, const s_request_t *req)
{
    sb_envelope_head_t head = { .role = m->route->role ? m->route->role : SB_ROLE_NONE };
    snprintf (head.id, sizeof (head.id), "%s",
              req->request_id && sb_envelope_id_valid (req->request_id) ? req->request_id
                                                                         : "0123456789abcdef");
    snprintf (head.op, sizeof (head.op), "%s", m->route->op);
    snprintf (head.ip, sizeof (head.ip), "%s", ip);
    snprintf (head.idem, sizeof (head.idem), "%s", idem);
    if (head.role != SB_ROLE_NONE) {
        snprintf (head.org, sizeof (head.org), "%s", "7c9e6679-7425-40de-944b-e07fc1f90ae7");
        snprintf (head.sub, sizeof (head.sub), "%s", "0b5e2c4e-2f43-4b6a-9d2c-1f1e0e6d7a10");
        snprintf (head.sid, sizeof (head.sid), "%s", "session-1");
    }
    head.deadline = 1798761600000LL;
    msgpack_sbuffer envelope;
    msgpack_sbuffer_init (&envelope);
    sb_envelope_encode_request (&envelope, &head, packed->data, packed->size);
    sb_request_t request;
    char why [256];
    if (sb_request_decode (&request, envelope.data, envelope.size, why, sizeof (why))) {
        fprintf (stderr, "gateway_request harness: %s\n", why);
        s_fail ("a worker refuses the envelope the gateway built");
    }
    const sb_envelope_head_t *got = &request.head;
    if (!streq (got->id, head.id) || !streq (got->op, head.op) || !streq (got->org, head.org)
        || !streq (got->sub, head.sub) || !streq (got->key, head.key)
        || !streq (got->sid, head.sid) || !streq (got->ip, head.ip)
        || !streq (got->idem, head.idem) || got->role != head.role
        || got->deadline != head.deadline)
        s_fail ("the envelope's head changed on the way");
    if (args) {
        msgpack_sbuffer text;
        msgpack_sbuffer_init (&text);
        sb_json_write (&text, request.args);
        json_t *back = sb_json_parse (text.data, text.size, why, sizeof (why));
        if (!back || !json_equal (back, args))
            s_fail ("the envelope's arguments are not what was packed");
        json_decref (back);
        msgpack_sbuffer_destroy (&text);
    }
    else {
        msgpack_sbuffer again;
        msgpack_sbuffer_init (&again);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &again, msgpack_sbuffer_write);
        msgpack_pack_object (&pk, *request.args);
        if (again.size != packed->size || memcmp (again.data, packed->data, again.size))
            s_fail ("the envelope's raw arguments are not what was packed");
        msgpack_sbuffer_destroy (&again);
    }
    sb_request_release (&request);
    msgpack_sbuffer_destroy (&envelope);
}

//  The first header field of that name (case-insensitive), as
//  libmicrohttpd's lookup answers; NULL when none.
static const char *
s_header (const s_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (!strcasecmp (req->headers [i].name, name))
            return req->headers [i].value;
    return NULL;
}

static bool
s_str_is (const msgpack_object *obj, const char *text, size_t len)
{
    return obj && obj->type == MSGPACK_OBJECT_STR && obj->via.str.size == len
           && memcmp (obj->via.str.ptr, text, len) == 0;
}

//  A raw route: {raw, signature, path, query, params}, byte for byte.
static void
s_check_raw (const s_request_t *req, const gw_match_t *m, const char *ip)
{
    const char *signature = m->route->signature ? s_header (req, m->route->signature) : NULL;
    const char *pairs [2 * S_MAX_QUERY + 1];
    for (size_t i = 0; i < req->query_count; i++) {
        pairs [2 * i] = req->query [i].name;
        pairs [2 * i + 1] = req->query [i].value;
    }
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    gw_http_raw_args (&packed, m, req->body, req->body_size, signature, req->path, pairs,
                      req->query_count);
    char why [256];
    if (sb_mpk_validate (packed.data, packed.size, SB_MPK_MAX_DEPTH, why, sizeof (why)))
        s_fail ("a raw route's arguments are not a valid frame");
    msgpack_zone zone;
    msgpack_zone_init (&zone, 4096);
    msgpack_object obj;
    size_t offset = 0;
    if (msgpack_unpack (packed.data, packed.size, &offset, &zone, &obj) != MSGPACK_UNPACK_SUCCESS
        || offset != packed.size || obj.type != MSGPACK_OBJECT_MAP
        || obj.via.map.size != 4 + m->param_count)
        s_fail ("a raw route's arguments are not one map of 4 + params");
    //  Every key once, and each value what was sent.
    static const char *const fixed [4] = { "raw", "signature", "path", "query" };
    for (uint32_t i = 0; i < obj.via.map.size; i++) {
        const msgpack_object *key = &obj.via.map.ptr [i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            s_fail ("a raw route's argument name is not a string");
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *other = &obj.via.map.ptr [j].key;
            if (s_str_is (other, key->via.str.ptr, key->via.str.size))
                s_fail ("a raw route's arguments repeat a name");
        }
        if (i < 4 && !s_str_is (key, fixed [i], strlen (fixed [i])))
            s_fail ("a raw route's arguments are not in their order");
    }
    const msgpack_object *raw = &obj.via.map.ptr [0].val, *sig = &obj.via.map.ptr [1].val;
    const msgpack_object *path = &obj.via.map.ptr [2].val, *query = &obj.via.map.ptr [3].val;
    if (raw->type != MSGPACK_OBJECT_BIN || raw->via.bin.size != req->body_size
        || (req->body_size && memcmp (raw->via.bin.ptr, req->body, req->body_size)))
        s_fail ("raw is not the body's bytes");
    if (signature ? !s_str_is (sig, signature, strlen (signature)) : sig->type != MSGPACK_OBJECT_NIL)
        s_fail ("signature is not the header's");
    if (!s_str_is (path, req->path, strlen (req->path)))
        s_fail ("path is not the path");
    if (query->type != MSGPACK_OBJECT_ARRAY || query->via.array.size != req->query_count)
        s_fail ("query is not one pair per parameter");
    for (size_t i = 0; i < req->query_count; i++) {
        const msgpack_object *pair = &query->via.array.ptr [i];
        const char *value = req->query [i].value ? req->query [i].value : "";
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2
            || !s_str_is (&pair->via.array.ptr [0], req->query [i].name, strlen (req->query [i].name))
            || !s_str_is (&pair->via.array.ptr [1], value, strlen (value)))
            s_fail ("a query pair is not the parameter, in order");
    }
    for (size_t i = 0; i < m->param_count; i++) {
        const msgpack_object_kv *pair = &obj.via.map.ptr [4 + i];
        if (!s_str_is (&pair->key, m->params [i].name, strlen (m->params [i].name))
            || !s_str_is (&pair->val, m->params [i].value, strlen (m->params [i].value)))
            s_fail ("a path parameter is not the path's");
    }
    msgpack_zone_destroy (&zone);
    s_check_envelope (m, &packed, NULL, "", ip, req);
    msgpack_sbuffer_destroy (&packed);
}

static void
s_check_service (const s_request_t *req, const gw_match_t *m, const char *ip)
{
    //  The Idempotency-Key.
    char idem [SB_IDEM_MAX + 1] = "";
    bool idem_ok = gw_http_idempotency_key (req->method, req->idempotency, idem);
    bool want = true;
    if (req->idempotency && streq (req->method, "POST")) {
        size_t len = strlen (req->idempotency);
        want = len >= 1 && len <= SB_IDEM_MAX;
        for (size_t i = 0; i < len && want; i++)
            want = req->idempotency [i] >= 0x20 && req->idempotency [i] <= 0x7e;
        if (want && !streq (idem, req->idempotency))
            s_fail ("the Idempotency-Key taken is not the header's");
    }
    else
    if (*idem)
        s_fail ("an Idempotency-Key taken where there is none to take");
    if (idem_ok != want)
        s_fail ("an Idempotency-Key judged otherwise than its rule");
    if (!idem_ok)
        return;

    //  The body.
    char why [256];
    json_t *args = gw_http_body_args (req->body, req->body_size, why, sizeof (why));
    json_t *mine = req->body_size ? sb_json_parse (req->body, req->body_size, why, sizeof (why))
                                  : json_object ();
    bool body_ok = json_is_object (mine) && s_nesting (mine) <= GW_MAX_DEPTH;
    json_decref (mine);
    if (!args != !body_ok)
        s_fail (args ? "a body that is not an object of 16 levels was taken"
                     : "a JSON object of at most 16 levels was refused");
    if (!args)
        return;

    //  The URL's parameters.
    for (size_t i = 0; i < req->query_count + m->param_count; i++) {
        const char *name = i < req->query_count ? req->query [i].name
                                                : m->params [i - req->query_count].name;
        const char *value = i < req->query_count ? req->query [i].value
                                                 : m->params [i - req->query_count].value;
        bool ok = gw_http_arg_set (args, name, value);
        bool valid = *name && s_utf8 (name) && (!value || s_utf8 (value));
        if (ok != valid)
            s_fail (ok ? "a parameter that is not valid UTF-8 (or nameless) was set"
                       : "a valid parameter was refused");
        if (!ok) {
            json_decref (args);
            return;                     //  400
        }
    }
    s_check_args (req, m, args);
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    sb_json_pack_into (&packed, args);
    s_check_envelope (m, &packed, args, idem, ip, req);
    msgpack_sbuffer_destroy (&packed);
    json_decref (args);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > S_MAX_INPUT)
        return 0;
    s_size = size;
    s_request_t req;
    if (s_split (data, size, &req)) {
        gw_match_t m;
        gw_routes_match (req.method, req.path, &m);
        s_check_route (&req, &m);
        s_check_credential (&req);
        char ip [GW_ADDR_TEXT];
        s_check_client (&req, ip);
        bool forwarded = m.status == 0 && m.route->service
                         && req.body_size <= gw_route_max_body (m.route);
        if (forwarded && (m.route->flags & GW_ROUTE_RAW))
            s_check_raw (&req, &m, ip);
        else
        if (forwarded)
            s_check_service (&req, &m, ip);
    }
    free (req.xff);
    free (req.text);
    return 0;
}
