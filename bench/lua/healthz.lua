-- bench/lua/healthz.lua — GET /healthz: the gateway alone, no credential.
-- usage: wrk ... -s healthz.lua http://HOST:PORT/healthz
-- No request() function: wrk sends its one pre-built request, the cheapest
-- load it can generate.
dofile ((debug.getinfo (1, "S").source:match ("^@(.*/)") or "./") .. "common.lua")
