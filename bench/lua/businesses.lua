-- bench/lua/businesses.lua — GET /v1/businesses?limit=20, the first page of
-- one organization's businesses, each request with the credential of the
-- next organization of the credentials file.
-- usage: wrk ... -s businesses.lua URL -- CREDENTIALS_FILE jwt|key
--   jwt  Authorization: Bearer <access token>
--   key  X-API-Key: <API key>
dofile ((debug.getinfo (1, "S").source:match ("^@(.*/)") or "./") .. "common.lua")

function init (args)
    local orgs, mode = bench_orgs (args [1]), args [2] or "jwt"
    -- Every request is one of #orgs fixed strings: build them once.
    local prepared = {}
    for i, org in ipairs (orgs) do
        local headers
        if mode == "key" then
            headers = { ["X-API-Key"] = org.key }
        elseif mode == "jwt" then
            headers = { ["Authorization"] = "Bearer " .. org.token }
        else
            error ("businesses.lua: mode must be jwt or key, not " .. tostring (mode))
        end
        prepared [i] = wrk.format ("GET", "/v1/businesses?limit=20", headers)
    end
    bench_serve (prepared)
end
