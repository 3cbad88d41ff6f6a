-- bench/lua/login.lua — POST /v1/auth/login with the email of the next
-- organization's admin of the credentials file (argon2id-bound).
-- usage: wrk ... -s login.lua URL -- CREDENTIALS_FILE PASSWORD
dofile ((debug.getinfo (1, "S").source:match ("^@(.*/)") or "./") .. "common.lua")

function init (args)
    local orgs, password = bench_orgs (args [1]), args [2]
    if not password then error ("login.lua: no password given") end
    local prepared = {}
    for i, org in ipairs (orgs) do
        prepared [i] = wrk.format ("POST", "/v1/auth/login",
                                   { ["Content-Type"] = "application/json" },
                                   string.format ('{"email":"%s","password":"%s"}', org.email, password))
    end
    bench_serve (prepared)
end
