#!/usr/bin/env bash
# GET /docs and the guides (gateway/src/gw_static.c, tools/docs-build.mjs):
# the reference page under its Content-Security-Policy with no inline
# script, its assets, HEAD and ETags, the guides' index and pages, path
# traversal answered 404 in the API's error shape; headless Chromium
# renders the reference with Redoc from the gateway alone (so under the
# CSP, offline); a docs directory of the test's own (SWITCHBOARD_DOCS_DIR)
# with guides that need escaping; and a gateway without any: 503.
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init

built=$(cd "$SB_BIN/.." && pwd)/share/docs
t_ok "make built the docs next to the binaries ($built)" test -f "$built/index.html"
suite_up

# ---- the reference page ---------------------------------------------------
http GET /docs
t_is "/docs answers 200" "$HTTP_STATUS" 200
t_like "/docs is HTML" "$(http_header Content-Type)" '^text/html; charset=utf-8$'
csp=$(http_header Content-Security-Policy)
t_like "the CSP allows nothing by default" "$csp" "(^|; )default-src 'none'(;|$)"
t_like "the CSP allows scripts from the gateway only" "$csp" "(^|; )script-src 'self'(;|$)"
t_like "the CSP fetches from the gateway only" "$csp" "(^|; )connect-src 'self'(;|$)"
t_like "the CSP forbids framing" "$csp" "(^|; )frame-ancestors 'none'(;|$)"
t_like "the CSP forbids <base>" "$csp" "(^|; )base-uri 'none'(;|$)"
t_unlike "the CSP allows no eval and no inline script" "$csp" "script-src[^;]*(unsafe|data:|http)"
t_is "nosniff" "$(http_header X-Content-Type-Options)" nosniff
page=$HTTP_BODY
t_is "no inline <script> (each has a src)" \
     "$(grep -oi '<script[^>]*>' <<<"$page" | grep -vic ' src=')" 0
t_unlike "no inline event handler" "$page" '<[^>]* on[a-z]+='
t_like "the page renders /openapi.json" "$page" 'data-spec-url="/openapi.json"'
etag=$(http_header ETag)
t_like "an ETag" "$etag" '^"[0-9a-f]{32}"$'

http HEAD /docs
t_is "HEAD /docs answers 200" "$HTTP_STATUS" 200
t_is "HEAD /docs says the GET's length" "$(http_header Content-Length)" "$(wc -c < "$built/index.html")"
http GET /docs "" -H "If-None-Match: $etag"
t_is "If-None-Match with the ETag: 304" "$HTTP_STATUS" 304
t_is "a 304 has no body" "$HTTP_BODY" ""
http GET /docs "" -H 'If-None-Match: "00000000000000000000000000000000"'
t_is "another ETag: 200" "$HTTP_STATUS" 200
http POST /docs '{}'
t_is "POST /docs: 405" "$HTTP_STATUS" 405

# Every asset the page names loads, with its type.
assets=$(grep -o '/docs/assets/[A-Za-z0-9.-]*' <<<"$page" | sort -u)
t_like "the page loads Redoc from the gateway" "$assets" '/docs/assets/redoc\.standalone\.js'
t_unlike "the page loads nothing from elsewhere" "$page" '(src|href)="(https?:)?//'
for asset in $assets; do
    http GET "$asset"
    t_is "$asset answers 200" "$HTTP_STATUS" 200
    case $asset in
        *.js)  t_like "$asset is JavaScript" "$(http_header Content-Type)" '^text/javascript' ;;
        *.css) t_like "$asset is CSS" "$(http_header Content-Type)" '^text/css' ;;
    esac
    t_like "$asset may be cached" "$(http_header Cache-Control)" 'max-age=[1-9]'
    t_is "$asset: nosniff" "$(http_header X-Content-Type-Options)" nosniff
done
t_is "the bundle served is the one built" \
     "$(curl -s "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/docs/assets/redoc.standalone.js" | sha256sum)" \
     "$(sha256sum < "$built/assets/redoc.standalone.js")"
http GET /docs/assets/redoc.standalone.js
t_is "without Accept-Encoding: not compressed" "$(http_header Content-Encoding)" ""
plain_etag=$(http_header ETag)
t_like "the bundle varies by Accept-Encoding" "$(http_header Vary)" 'Accept-Encoding'
http HEAD /docs/assets/redoc.standalone.js "" -H 'Accept-Encoding: gzip'
t_is "Accept-Encoding: gzip: the gzip'd bundle" "$(http_header Content-Encoding)" gzip
t_is "the gzip'd bundle is smaller" \
     "$(( $(http_header Content-Length) < $(wc -c < "$built/assets/redoc.standalone.js") ))" 1
t_isnt "the gzip'd bundle has an ETag of its own" "$(http_header ETag)" "$plain_etag"
t_is "the gzip'd bundle unpacks to the bundle" \
     "$(curl -s --compressed "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/docs/assets/redoc.standalone.js" | sha256sum)" \
     "$(sha256sum < "$built/assets/redoc.standalone.js")"
http HEAD /docs/assets/redoc.standalone.js "" -H 'Accept-Encoding: gzip;q=0'
t_is "gzip;q=0: not compressed" "$(http_header Content-Encoding)" ""

# ---- traversal and unknown names: 404 in the API's shape -------------------
for path in /docs/assets/../../etc/passwd /docs/assets/..%2f..%2fetc%2fpasswd \
            /docs/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd /docs/assets/%2e%2e \
            /docs/assets/..%5c..%5cetc%5cpasswd /docs/guides/..%2f..%2fassets%2fdocs.js \
            /docs/guides/../index.html /docs/assets/.hidden /docs/assets/nope.js \
            /docs/assets/docs.js/ /docs/guides/nope /docs/guides/index \
            /docs/guides/getting-started.md /docs/assets/; do
    http GET "$path" "" --path-as-is
    t_is "$path: 404" "$HTTP_STATUS" 404
    t_is "$path: error not_found" "$(json_get "$HTTP_BODY" .error.code)" not_found
done

# ---- the guides --------------------------------------------------------------
http GET /docs/guides/
t_is "/docs/guides/ answers 200" "$HTTP_STATUS" 200
t_like "/docs/guides/ is HTML" "$(http_header Content-Type)" '^text/html'
t_like "the guides' CSP runs no script" "$(http_header Content-Security-Policy)" "^default-src 'none'"
t_unlike "the guides' CSP names no script source" "$(http_header Content-Security-Policy)" 'script-src'
index=$HTTP_BODY
http GET /docs/guides
t_is "/docs/guides (no slash) is the same index" "$HTTP_BODY" "$index"
guides=0
for md in "$SUITE_ROOT"/docs/guides/*.md; do
    [[ -f $md ]] || continue
    name=$(basename "$md" .md)
    [[ $name =~ ^[a-z0-9][a-z0-9-]*$ && $name != index ]] || continue
    guides=$((guides + 1))
    t_like "the index lists $name" "$index" "href=\"/docs/guides/$name\""
    http GET "/docs/guides/$name"
    t_is "/docs/guides/$name answers 200" "$HTTP_STATUS" 200
    title=$(sed -n 's/^# //p' "$md" | head -n 1)
    if [[ $title =~ ^[A-Za-z0-9\ ,.:\'-]+$ ]]; then
        t_like "/docs/guides/$name has its title" "$HTTP_BODY" "<h1 id=\"[^\"]*\">$title</h1>"
    fi
done
if (( guides == 0 )); then
    t_like "no guides in docs/guides yet: the index says so" "$index" 'No guides yet'
fi

# ---- headless Chromium renders the reference ---------------------------------
# What Redoc renders comes only from /openapi.json: seeing the document's
# title in the DOM proves the bundle ran and fetched it under the CSP.
http GET /openapi.json
if ! chromium_bin >/dev/null; then
    t_skip_one "Chromium renders /docs" "no /usr/bin/chromium (deploy/local/deps.sh test installs it)"
elif [[ $HTTP_STATUS != 200 ]]; then
    t_skip_one "Chromium renders /docs" "GET /openapi.json answers $HTTP_STATUS: no document served yet"
else
    api_title=$(json_get "$HTTP_BODY" .info.title)
    dom=$(chromium_headless --virtual-time-budget=20000 --dump-dom \
                            "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/docs")
    t_like "Chromium: Redoc rendered the document's title" "$dom" \
           "<h1[^>]*>$(sed 's/[][\\.*^$+?(){}|]/\\&/g' <<<"$api_title")"
fi

# ---- a docs directory of our own: guides that need escaping ------------------
# Built by the same tool from tests/fixtures/guides, with a small OpenAPI
# document beside the assets for the page to render.
own=$SUITE_TMP/docs
t_ok "tools/docs-build.mjs builds the fixtures' guides" \
     node "$SUITE_ROOT/tools/docs-build.mjs" "$own" "$SUITE_ROOT/tests/fixtures/guides"
cat > "$own/assets/openapi.json" <<'EOF'
{"openapi": "3.1.0",
 "info": {"title": "Docs Fixture API", "version": "1.0.0"},
 "paths": {"/v1/widgets": {"get": {"operationId": "listWidgets",
   "summary": "List the fixture widgets",
   "responses": {"200": {"description": "the widgets"}}}}}}
EOF
sed -i 's#data-spec-url="/openapi.json"#data-spec-url="/docs/assets/openapi.json"#' "$own/index.html"
gzip -9 -c "$own/index.html" > "$own/index.html.gz"    # the copy a browser gets
suite_stop gateway-1
SWITCHBOARD_DOCS_DIR=$own suite_start_gateway 2
suite_wait_status /healthz 200 30

http GET /docs/guides/
t_like "SWITCHBOARD_DOCS_DIR: its guides are listed" "$HTTP_BODY" 'href="/docs/guides/placeholder-guide"'
t_like "the guide's title is escaped in the index" "$HTTP_BODY" \
       '>A placeholder guide &amp; its &lt;title&gt;</a>'
t_unlike "a guide whose name is not [a-z0-9-] is left out" "$HTTP_BODY" 'Not_A_Guide'
http GET /docs/guides/placeholder-guide
t_is "the guide answers 200" "$HTTP_STATUS" 200
t_like "its <title> is escaped" "$HTTP_BODY" '<title>A placeholder guide &amp; its &lt;title&gt; — Switchboard</title>'
t_like "a code block is escaped" "$HTTP_BODY" \
       '&lt;script&gt;alert\(&quot;not run&quot;\)&lt;/script&gt; &amp; &amp;amp;'
t_like "inline code is escaped" "$HTTP_BODY" '<code>&lt;b&gt;not bold&lt;/b&gt;</code>'
t_unlike "no <script> element at all" "$HTTP_BODY" '<script'
t_like "a link to another guide's .md is served without it" "$HTTP_BODY" \
       'href="second-guide#its-only-section"'
t_like "headings have GitHub's ids" "$HTTP_BODY" '<h2 id="links-between-guides">'
t_like "a link into the source tree keeps its text, not the link" "$HTTP_BODY" \
       '<span class="sb-source" title="docs/API.md in the source tree">the API contract</span>'
http GET /docs/guides/second-guide
t_like "the second guide has its section's id" "$HTTP_BODY" '<h2 id="its-only-section">'
http GET /docs/guides/Not_A_Guide
t_is "the left-out guide: 404" "$HTTP_STATUS" 404

if chromium_bin >/dev/null; then
    dom=$(chromium_headless --virtual-time-budget=20000 --dump-dom \
                            "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/docs")
    t_like "Chromium: Redoc rendered the fixture's title" "$dom" '<h1[^>]*>Docs Fixture API'
    t_like "Chromium: and its operation" "$dom" 'List the fixture widgets'
else
    t_skip_one "Chromium renders the fixture's document" \
               "no /usr/bin/chromium (deploy/local/deps.sh test installs it)"
fi

# ---- a gateway without docs: runs, and /docs says why ------------------------
suite_stop gateway-2
SWITCHBOARD_DOCS_DIR=$SUITE_TMP/no-docs suite_start_gateway 3
suite_wait_status /healthz 200 30
http GET /docs
t_is "no docs built: /docs answers 503" "$HTTP_STATUS" 503
t_is "no docs built: service_unavailable" "$(json_get "$HTTP_BODY" .error.code)" service_unavailable
t_like "no docs built: the message says so" "$(json_get "$HTTP_BODY" .error.message)" 'not built'
http GET /docs/guides/getting-started
t_is "no docs built: a guide answers 503" "$HTTP_STATUS" 503
http GET /healthz
t_is "no docs built: the gateway serves the rest" "$HTTP_STATUS" 200

t_done
