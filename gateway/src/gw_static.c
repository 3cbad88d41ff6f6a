/*  gw_static.c — the files of /docs (the API reference and the guides)
    and of the customer dashboard (/ and /app/...).

    `make docs` (part of `make` when npm is there) builds a directory,
    <build>/share/docs, that holds everything /docs serves:

        index.html              GET /docs: the page that runs Redoc on /openapi.json
        assets/<name>           GET /docs/assets/<name>: Redoc's bundle, docs.js, CSS
        guides/index.html       GET /docs/guides/ (and /docs/guides): the list
        guides/<name>.html      GET /docs/guides/<name>: docs/guides/<name>.md rendered

    The gateway reads that directory once, when it starts
    (SWITCHBOARD_DOCS_DIR, by default ../share/docs next to its own binary),
    and serves the files from memory: a request names a file only through
    a table built at start, so no path a client sends ever reaches the file
    system, and `..` or an encoded slash can only miss (404). Names are
    [a-zA-Z0-9][a-zA-Z0-9.-]* (no "..") for assets and [a-z0-9-]+ for
    guides; files with
    other names, other types or over S_FILE_MAX are left out at start
    (logged). A changed directory is seen after a restart.

    The dashboard (gateway/www, built by tools/www-build.mjs) is the
    directory www beside that one (<build>/share/www): its index.html
    answers GET /, /app, /app/ and /app/{path...} (a single-page app that
    routes in the browser), its assets/<name> GET /app/assets/<name>,
    under S_CSP_APP: script, style, images, fonts and fetches from the
    gateway only, no inline script or style, forms to the gateway only,
    no framing. Without it those answer 503 as /docs does.

    A gateway without the directory (built by `make` on a machine without
    npm) runs all the same: /docs and the guides answer 503
    service_unavailable saying the assets are not built; an unknown name
    answers 404 not_found, both in the API's error shape.

    Every file has an ETag (a BLAKE2b digest of its bytes) and answers
    If-None-Match with 304. Where the build left a gzip'd copy beside a
    file (<name>.gz, never served by that name), a client whose
    Accept-Encoding takes gzip gets that copy (Content-Encoding: gzip, an
    ETag of its own, Vary: Accept-Encoding): Redoc's 1.1 MB bundle goes
    out as some 330 KB. Pages are revalidated on every load
    (no-cache); assets may be kept an hour. Every answer has
    X-Content-Type-Options: nosniff and a Content-Security-Policy:
    - the reference page: default-src 'none' (nothing unless listed);
      script-src 'self' (Redoc's bundle and docs.js, both ours: no inline
      script, no eval, no other origin); style-src 'self' 'unsafe-inline'
      (Redoc renders with styled-components, which writes <style>
      elements at run time; a style cannot run code); img-src 'self' data:
      (Redoc's icons are data: URLs); font-src 'self' (no font CDN);
      connect-src 'self' (Redoc fetches /openapi.json, nothing else);
      worker-src blob: (Redoc's search index runs in a Web Worker built
      from a Blob of the bundle's own code, which only script already
      admitted by script-src can make); base-uri 'none', form-action
      'none', frame-ancestors 'none' (no base rewriting, no forms, no
      framing: clickjacking).
    - guides and assets: the same without any script, worker or inline
      style (the guides are plain HTML with one stylesheet).
*/
#include "gw.h"
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <microhttpd.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_FILE_MAX (16 * 1024 * 1024)   //  a file larger than this is left out
#define S_NAME_MAX 128

#define S_CSP_REFERENCE "default-src 'none'; script-src 'self'; " \
                        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; " \
                        "font-src 'self'; connect-src 'self'; worker-src blob:; " \
                        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define S_CSP_STRICT    "default-src 'none'; style-src 'self'; img-src 'self' data:; " \
                        "font-src 'self'; base-uri 'none'; form-action 'none'; " \
                        "frame-ancestors 'none'"
#define S_CSP_APP       "default-src 'none'; script-src 'self'; style-src 'self'; " \
                        "img-src 'self' data:; connect-src 'self'; font-src 'self'; " \
                        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

//  One representation of a file: its bytes and their entity tag.
typedef struct {
    char *data;                     //  NULL: none
    size_t size;
    char etag [2 * 16 + 3];         //  "<32 hex>"
} s_body_t;

typedef struct {
    s_body_t plain;
    s_body_t gzip;                  //  <name>.gz beside it, if the build made one
    const char *type;               //  Content-Type
    const char *csp;
    const char *cache;              //  Cache-Control
} s_file_t;

struct _gw_static_t {
    char *dir;
    char *www;                      //  the dashboard's: dir's sibling www
    zhashx_t *files;                //  URL path ("/docs/assets/docs.js") -> s_file_t
    bool built;                     //  the page and Redoc's bundle are there
    bool app_built;                 //  the dashboard's index.html is there
};

static void
s_file_destroy (void **item_p)
{
    s_file_t *file = (s_file_t *) *item_p;
    if (file) {
        free (file->plain.data);
        free (file->gzip.data);
        free (file);
        *item_p = NULL;
    }
}

//  The Content-Type for a file name, or NULL for a type we do not serve.
static const char *
s_type_of (const char *name)
{
    static const struct { const char *ext, *type; } types [] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".txt", "text/plain; charset=utf-8" },
        { ".json", "application/json" },
        { ".png", "image/png" },
        { ".svg", "image/svg+xml" },
        { ".woff2", "font/woff2" },
        { NULL, NULL }
    };
    const char *dot = strrchr (name, '.');
    for (size_t i = 0; dot && types [i].ext; i++)
        if (streq (dot, types [i].ext))
            return types [i].type;
    return NULL;
}

//  True when name is [a-z0-9] followed by [a-z0-9-] (with dots: also
//  [A-Z.], for names like redoc.standalone.js.LICENSE.txt): what a URL
//  may name. A name with dots may not have two in a row.
static bool
s_name_ok (const char *name, bool dots)
{
    size_t len = strlen (name);
    if (len == 0 || len > S_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                     || (dots && c >= 'A' && c <= 'Z');
        if (alnum || (i > 0 && c == '-'))
            continue;
        if (dots && i > 0 && c == '.' && name [i - 1] != '.')
            continue;
        return false;
    }
    return true;
}

//  Reads the file at path into body, with its entity tag: false (logged
//  unless it is absent) when it cannot.
static bool
s_read (const char *path, s_body_t *body)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode) || st.st_size > S_FILE_MAX) {
        sb_warn ("docs: %s left out: not a regular file of at most %d MiB", path,
                 S_FILE_MAX / (1024 * 1024));
        close (fd);
        return false;
    }
    size_t size = (size_t) st.st_size, got = 0;
    char *data = (char *) sb_malloc (size ? size : 1);
    while (got < size) {
        ssize_t n = read (fd, data + got, size - got);
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    if (got != size) {
        sb_warn ("docs: %s left out: cannot read it", path);
        free (data);
        return false;
    }
    body->data = data;
    body->size = size;
    unsigned char digest [16];
    crypto_generichash (digest, sizeof (digest), (const unsigned char *) data, size, NULL, 0);
    body->etag [0] = '"';
    sodium_bin2hex (body->etag + 1, sizeof (body->etag) - 2, digest, sizeof (digest));
    strcat (body->etag, "\"");
    return true;
}

//  Reads dir/name into the table under key; false (logged) when it cannot.
static bool
s_load (gw_static_t *self, const char *dir, const char *name, const char *key, bool page,
        const char *csp)
{
    const char *type = s_type_of (name);
    if (!type) {
        sb_debug ("docs: %s/%s left out: not a type /docs serves", dir, name);
        return false;
    }
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    s_file_t *file = (s_file_t *) sb_calloc (1, sizeof (s_file_t));
    if (!s_read (path, &file->plain)) {
        void *item = file;
        s_file_destroy (&item);
        return false;
    }
    char gz [PATH_MAX + 4];
    snprintf (gz, sizeof (gz), "%s.gz", path);
    s_read (gz, &file->gzip);
    file->type = type;
    file->csp = csp;
    file->cache = page ? "no-cache" : "public, max-age=3600";
    zhashx_update (self->files, key, file);
    return true;
}

//  Loads every file of base/sub whose name passes s_name_ok and ends in
//  suffix ("" for any), under prefix + the name without the suffix.
static void
s_load_dir (gw_static_t *self, const char *base, const char *sub, const char *suffix,
            const char *prefix, bool page, const char *csp)
{
    char dir [PATH_MAX];
    snprintf (dir, sizeof (dir), "%s/%s", base, sub);
    DIR *handle = opendir (dir);
    if (!handle)
        return;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        const char *name = entry->d_name;
        if (name [0] == '.')
            continue;
        size_t len = strlen (name), slen = strlen (suffix);
        if (len <= slen || len > S_NAME_MAX || !streq (name + len - slen, suffix))
            continue;
        char stem [S_NAME_MAX + 1];
        snprintf (stem, sizeof (stem), "%.*s", (int) (len - slen), name);
        if (!s_name_ok (stem, *suffix == 0) || streq (stem, "index")) {
            if (!streq (stem, "index"))
                sb_warn ("docs: %s/%s left out: not a name a URL may have", dir, name);
            continue;
        }
        char key [256];
        snprintf (key, sizeof (key), "%s%s", prefix, stem);
        s_load (self, dir, name, key, page, csp);
    }
    closedir (handle);
}

//  The default directory: ../share/docs from the running binary's.
static char *
s_default_dir (void)
{
    char exe [PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", exe, sizeof (exe) - 1);
    if (len <= 0)
        return sb_strdup ("share/docs");
    exe [len] = 0;
    char *dir = NULL;
    if (asprintf (&dir, "%s/../share/docs", dirname (exe)) < 0)
        abort ();
    return dir;
}

gw_static_t *
gw_static_new (const char *dir)
{
    gw_static_t *self = (gw_static_t *) sb_calloc (1, sizeof (gw_static_t));
    self->files = zhashx_new ();
    zhashx_set_destructor (self->files, s_file_destroy);
    char *chosen = dir && *dir ? sb_strdup (dir) : s_default_dir ();
    char resolved [PATH_MAX];
    self->dir = sb_strdup (realpath (chosen, resolved) ? resolved : chosen);
    free (chosen);

    s_load (self, self->dir, "index.html", "/docs", true, S_CSP_REFERENCE);
    s_load_dir (self, self->dir, "assets", "", "/docs/assets/", false, S_CSP_STRICT);
    s_load (self, self->dir, "guides/index.html", "/docs/guides/", true, S_CSP_STRICT);
    s_load_dir (self, self->dir, "guides", ".html", "/docs/guides/", true, S_CSP_STRICT);
    self->built = zhashx_lookup (self->files, "/docs")
                  && zhashx_lookup (self->files, "/docs/assets/redoc.standalone.js");
    size_t docs = zhashx_size (self->files);
    if (self->built)
        sb_info ("docs: %zu files from %s", docs, self->dir);
    else
        sb_warn ("docs: no built documentation in %s (make docs builds it; it needs npm): "
                 "/docs answers 503", self->dir);

    //  The dashboard: the directory www beside dir.
    char parent [PATH_MAX];
    snprintf (parent, sizeof (parent), "%s", self->dir);
    if (asprintf (&self->www, "%s/www", dirname (parent)) < 0)
        abort ();
    s_load (self, self->www, "index.html", "/app/", true, S_CSP_APP);
    s_load_dir (self, self->www, "assets", "", "/app/assets/", false, S_CSP_APP);
    self->app_built = zhashx_lookup (self->files, "/app/") != NULL;
    if (self->app_built)
        sb_info ("www: %zu files from %s", zhashx_size (self->files) - docs, self->www);
    else
        sb_warn ("www: no built dashboard in %s (make docs builds it; it needs npm): "
                 "/ and /app answer 503", self->www);
    return self;
}

void
gw_static_destroy (gw_static_t **self_p)
{
    gw_static_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->files);
        free (self->dir);
        free (self->www);
        free (self);
        *self_p = NULL;
    }
}

//  True when an If-None-Match header names etag (or is "*").
static bool
s_not_modified (const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    if (streq (if_none_match, "*"))
        return true;
    //  A list of entity tags, maybe weak (W/"..."): ours is a run of hex in
    //  quotes, so finding it is matching it.
    return strstr (if_none_match, etag) != NULL;
}

//  True when an Accept-Encoding header takes gzip: "gzip" or "*" listed
//  without q=0.
static bool
s_takes_gzip (const char *accept)
{
    if (!accept)
        return false;
    char copy [256];
    snprintf (copy, sizeof (copy), "%s", accept);
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        while (*item == ' ' || *item == '\t')
            item++;
        size_t len = strcspn (item, " \t;");
        if (!((len == 4 && strncasecmp (item, "gzip", 4) == 0) || (len == 1 && *item == '*')))
            continue;
        const char *q = strstr (item + len, "q=");
        if (q && strtod (q + 2, NULL) <= 0)
            return false;
        return true;
    }
    return false;
}

//  Answers with the file at key, or 404 (503 when nothing is built).
static void
s_serve (gw_conn_t *conn, const char *key)
{
    gw_static_t *self = gw_http_docs (conn);
    s_file_t *file = self ? (s_file_t *) zhashx_lookup (self->files, key) : NULL;
    bool app = strncmp (key, "/app/", 5) == 0;
    if (!file) {
        if (!self || !(app ? self->app_built : self->built))
            gw_http_error (conn, 503, SB_E_SERVICE_UNAVAILABLE,
                           app ? "the dashboard is not built on this server (make docs)"
                               : "the documentation is not built on this server (make docs)");
        else
            gw_http_error (conn, 404, SB_E_NOT_FOUND, "no such path");
        return;
    }
    //  The gzip'd bytes when the build made them and the client takes
    //  them: a representation of its own, with its own ETag.
    bool gzip = file->gzip.data && s_takes_gzip (gw_http_header (conn, "Accept-Encoding"));
    const s_body_t *body = gzip ? &file->gzip : &file->plain;
    int status = 200;
    struct MHD_Response *response;
    if (s_not_modified (gw_http_header (conn, "If-None-Match"), body->etag)) {
        status = 304;
        response = MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
    }
    else
        //  The table lives as long as the daemon: no copy.
        response = MHD_create_response_from_buffer (body->size, body->data,
                                                    MHD_RESPMEM_PERSISTENT);
    if (!response)
        return;
    if (status == 200)
        MHD_add_response_header (response, "Content-Type", file->type);
    if (gzip && status == 200)
        MHD_add_response_header (response, "Content-Encoding", "gzip");
    if (file->gzip.data)
        MHD_add_response_header (response, "Vary", "Accept-Encoding");
    MHD_add_response_header (response, "ETag", body->etag);
    MHD_add_response_header (response, "Cache-Control", file->cache);
    MHD_add_response_header (response, "Content-Security-Policy", file->csp);
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    gw_http_send (conn, status, response);
}

//  The path parameter of a /docs/.../{name} route, or NULL when it is
//  not a name a file of ours can have.
static const char *
s_param (gw_conn_t *conn, bool dots)
{
    const gw_match_t *match = gw_http_match (conn);
    if (match->param_count != 1 || !s_name_ok (match->params [0].value, dots))
        return NULL;
    return match->params [0].value;
}

//  Serves prefix + the route's {name} parameter (dotted: asset names,
//  which may hold dots), or 404 when the name is not one s_param accepts.
static void
s_serve_named (gw_conn_t *conn, const char *prefix, bool dotted)
{
    const char *name = s_param (conn, dotted);
    char key [256] = "";
    if (name)
        snprintf (key, sizeof (key), "%s%s", prefix, name);
    s_serve (conn, key);
}

void
gw_static_reference (gw_conn_t *conn)
{
    s_serve (conn, "/docs");
}

void
gw_static_asset (gw_conn_t *conn)
{
    s_serve_named (conn, "/docs/assets/", true);
}

void
gw_static_guides (gw_conn_t *conn)
{
    s_serve (conn, "/docs/guides/");
}

void
gw_static_guide (gw_conn_t *conn)
{
    s_serve_named (conn, "/docs/guides/", false);
}

void
gw_static_app (gw_conn_t *conn)
{
    s_serve (conn, "/app/");
}

void
gw_static_app_asset (gw_conn_t *conn)
{
    s_serve_named (conn, "/app/assets/", true);
}

void
gw_static_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (s_name_ok ("redoc.standalone.js", true));
    SB_CHECK (s_name_ok ("getting-started", false));
    SB_CHECK (!s_name_ok ("getting-started.md", false));
    SB_CHECK (!s_name_ok ("..", true));
    SB_CHECK (!s_name_ok ("a..b", true));
    SB_CHECK (!s_name_ok (".hidden", true));
    SB_CHECK (!s_name_ok ("-x", true));
    SB_CHECK (!s_name_ok ("", true));
    SB_CHECK (!s_name_ok ("a/b", true));
    SB_CHECK (s_name_ok ("x.LICENSE.txt", true) && !s_name_ok ("Guide", false));
    SB_CHECK (!s_name_ok ("a%2e", true));
    SB_CHECK (streq (s_type_of ("x.js"), "text/javascript; charset=utf-8"));
    SB_CHECK (s_type_of ("x.exe") == NULL && s_type_of ("x") == NULL);
    SB_CHECK (s_not_modified ("\"ab\"", "\"ab\"") && s_not_modified ("W/\"x\", \"ab\"", "\"ab\""));
    SB_CHECK (!s_not_modified ("\"abc\"", "\"ab\"") && !s_not_modified (NULL, "\"ab\""));
    SB_CHECK (s_takes_gzip ("gzip, deflate, br") && s_takes_gzip ("br;q=1.0, GZIP;q=0.5"));
    SB_CHECK (s_takes_gzip ("*") && !s_takes_gzip ("gzip;q=0") && !s_takes_gzip ("gzip; q=0.0"));
    SB_CHECK (!s_takes_gzip ("deflate, br") && !s_takes_gzip ("x-gzip2") && !s_takes_gzip (NULL));
    SB_CHECK (!s_takes_gzip ("identity") && !s_takes_gzip (""));

    //  A directory of our own (docs and www side by side, as make docs
    //  builds them): what is loaded and what is left out.
    char top [] = "/tmp/sb-static-XXXXXX";
    SB_CHECK (mkdtemp (top) != NULL);
    char path [PATH_MAX], dir [PATH_MAX];
    snprintf (dir, sizeof (dir), "%s/docs", top);
    const char *dirs [] = { "docs", "docs/assets", "docs/guides", "www", "www/assets", NULL };
    const char *files [] = { "docs/index.html", "docs/assets/redoc.standalone.js",
                             "docs/assets/redoc.standalone.js.gz", "docs/assets/a.exe",
                             "docs/assets/-bad.js", "docs/guides/index.html",
                             "docs/guides/intro.html", "docs/guides/x_y.html",
                             "www/index.html", "www/assets/app.js", "www/assets/app.css",
                             "www/assets/..x.js", NULL };
    for (size_t i = 0; dirs [i]; i++) {
        snprintf (path, sizeof (path), "%s/%s", top, dirs [i]);
        SB_CHECK (mkdir (path, 0700) == 0);
    }
    for (size_t i = 0; files [i]; i++) {
        snprintf (path, sizeof (path), "%s/%s", top, files [i]);
        FILE *f = fopen (path, "w");
        SB_CHECK (f != NULL);
        if (f) {
            fputs (files [i], f);
            fclose (f);
        }
    }
    gw_static_t *self = gw_static_new (dir);
    SB_CHECK (self->built && self->app_built);
    SB_CHECK (zhashx_size (self->files) == 7);
    s_file_t *file = (s_file_t *) zhashx_lookup (self->files, "/docs/guides/intro");
    SB_CHECK (file && file->plain.size == strlen ("docs/guides/intro.html")
              && streq (file->type, "text/html; charset=utf-8")
              && strlen (file->plain.etag) == 34 && !file->gzip.data);
    file = (s_file_t *) zhashx_lookup (self->files, "/docs/assets/redoc.standalone.js");
    SB_CHECK (file && file->gzip.data
              && file->gzip.size == strlen ("docs/assets/redoc.standalone.js.gz")
              && !streq (file->gzip.etag, file->plain.etag));
    file = (s_file_t *) zhashx_lookup (self->files, "/docs");
    SB_CHECK (file && streq (file->csp, S_CSP_REFERENCE));
    SB_CHECK (zhashx_lookup (self->files, "/docs/guides/"));
    //  The dashboard: its page and assets, under the app's CSP.
    file = (s_file_t *) zhashx_lookup (self->files, "/app/");
    SB_CHECK (file && streq (file->csp, S_CSP_APP) && streq (file->cache, "no-cache")
              && file->plain.size == strlen ("www/index.html"));
    file = (s_file_t *) zhashx_lookup (self->files, "/app/assets/app.js");
    SB_CHECK (file && streq (file->csp, S_CSP_APP)
              && streq (file->type, "text/javascript; charset=utf-8"));
    SB_CHECK (zhashx_lookup (self->files, "/app/assets/app.css"));
    SB_CHECK (!zhashx_lookup (self->files, "/app/assets/..x.js"));
    gw_static_destroy (&self);
    SB_CHECK (self == NULL);
    for (size_t i = 0; files [i]; i++) {
        snprintf (path, sizeof (path), "%s/%s", top, files [i]);
        unlink (path);
    }
    for (size_t i = sizeof (dirs) / sizeof (dirs [0]) - 1; i-- > 0; ) {
        snprintf (path, sizeof (path), "%s/%s", top, dirs [i]);
        rmdir (path);
    }
    rmdir (top);

    //  No directory: nothing built.
    self = gw_static_new ("/nonexistent/sb-docs");
    SB_CHECK (!self->built && !self->app_built && zhashx_size (self->files) == 0);
    gw_static_destroy (&self);
}
