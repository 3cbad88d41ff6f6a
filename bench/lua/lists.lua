-- bench/lua/lists.lua — one list request, again and again, with the
-- credential of the first organization of the credentials file: the list
-- scenario of bench/lists.sh (a page of one big organization's calls).
-- usage: wrk ... -s lists.lua URL -- CREDENTIALS_FILE PATH
dofile ((debug.getinfo (1, "S").source:match ("^@(.*/)") or "./") .. "common.lua")

function init (args)
    local org, path = bench_orgs (args [1]) [1], args [2]
    if not path or path == "" then error ("lists.lua: no path given (wrk ... -- FILE PATH)") end
    bench_serve ({ wrk.format ("GET", path, { ["Authorization"] = "Bearer " .. org.token }) })
end
