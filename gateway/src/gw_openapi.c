/*  gw_openapi.c — the API reference: the OpenAPI document the gateway serves.

    docs/openapi.yaml is the one source; the build turns it into JSON
    (tools/openapi_json.py) and links that in as data (ld -r -b binary, run
    in the build directory, hence the symbols' names). GET /openapi.json
    answers it as is (gw_http_openapi, in gw_http.c).

    The selftest holds the document to the route table both ways: every
    route (method and path template) must be an operation of the document,
    and every operation of the document a route. It also checks
    each operation's security against the route: an operator route names
    the operator scheme alone, a route without authentication says
    `security: []`, and an authenticated one inherits the document's
    default (bearer or API key).
*/
#include "gw.h"
#include <ctype.h>
#include <jansson.h>
#include <strings.h>

extern const char _binary_docs_openapi_json_start [];
extern const char _binary_docs_openapi_json_end [];

const char *
gw_openapi_document (size_t *size)
{
    *size = (size_t) (_binary_docs_openapi_json_end - _binary_docs_openapi_json_start);
    return _binary_docs_openapi_json_start;
}

static const char *const s_methods [] = { "get", "put", "post", "delete", "patch", "head",
                                          "options", "trace", NULL };

static const gw_route_t *
s_route (const char *method, const char *path)
{
    for (size_t i = 0; gw_routes_at (i); i++) {
        const gw_route_t *route = gw_routes_at (i);
        if (strcasecmp (route->method, method) == 0 && streq (route->path, path))
            return route;
    }
    return NULL;
}


//  Does the operation's security say what the route needs? Returns NULL
//  when it does, else what is wrong.
static const char *
s_security_wrong (const gw_route_t *route, json_t *operation)
{
    json_t *security = json_object_get (operation, "security");
    if (route->flags & GW_ROUTE_OPERATOR) {
        json_t *only = json_array_get (security, 0);
        if (!json_is_array (security) || json_array_size (security) != 1
            || !json_object_get (only, "operator") || json_object_size (only) != 1)
            return "an operator route must have security [{operator: []}]";
        return NULL;
    }
    if (route->role == SB_ROLE_NONE)
        return json_is_array (security) && json_array_size (security) == 0
            ? NULL : "a route without authentication must have security []";
    return security ? "an authenticated route must inherit the default security" : NULL;
}

void
gw_openapi_test (bool verbose)
{
    size_t size;
    const char *text = gw_openapi_document (&size);
    SB_CHECK (size > 1000);
    json_error_t error;
    json_t *doc = json_loadb (text, size, 0, &error);
    SB_CHECK (doc);
    if (!doc) {
        fprintf (stderr, "openapi: the embedded document is not JSON: line %d: %s\n", error.line,
                 error.text);
        return;
    }
    const char *version = json_string_value (json_object_get (doc, "openapi"));
    SB_CHECK (version && strncmp (version, "3.1.", 4) == 0);
    json_t *paths = json_object_get (doc, "paths");
    SB_CHECK (json_is_object (paths));

    //  Every route is in the document, with the security it needs.
    size_t routes = 0, missing = 0, insecure = 0;
    for (size_t i = 0; gw_routes_at (i); i++) {
        const gw_route_t *route = gw_routes_at (i);
        char method [16];
        snprintf (method, sizeof (method), "%s", route->method);
        for (char *c = method; *c; c++)
            *c = (char) tolower ((unsigned char) *c);
        json_t *operation = json_object_get (json_object_get (paths, route->path), method);
        routes++;
        if (!json_is_object (operation)) {
            missing++;
            fprintf (stderr, "openapi: the route %s %s is not in docs/openapi.yaml\n",
                     route->method, route->path);
            continue;
        }
        const char *wrong = s_security_wrong (route, operation);
        if (wrong) {
            insecure++;
            fprintf (stderr, "openapi: %s %s: %s\n", route->method, route->path, wrong);
        }
        else
        if (verbose)
            printf ("  %s %s documented\n", route->method, route->path);
    }
    SB_CHECK (routes > 40);
    SB_CHECK (missing == 0);
    SB_CHECK (insecure == 0);

    //  Every operation of the document is a route.
    size_t operations = 0, unserved = 0;
    const char *path;
    json_t *item;
    json_object_foreach (paths, path, item) {
        for (size_t m = 0; s_methods [m]; m++) {
            if (!json_object_get (item, s_methods [m]))
                continue;
            operations++;
            if (s_route (s_methods [m], path))
                continue;
            unserved++;
            fprintf (stderr, "openapi: docs/openapi.yaml names %s %s, which no route serves\n",
                     s_methods [m], path);
        }
    }
    SB_CHECK (operations >= routes);
    SB_CHECK (unserved == 0);

    //  The check itself: a route unknown to the document is found.
    SB_CHECK (!json_object_get (paths, "/v1/no-such-route"));
    SB_CHECK (s_route ("GET", "/healthz") && !s_route ("PUT", "/healthz"));
    json_decref (doc);
}
