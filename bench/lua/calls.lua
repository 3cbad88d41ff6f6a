-- bench/lua/calls.lua — POST /v1/calls: a call record for one of the
-- organization's businesses (the write path: validation, plan quota,
-- insert, usage outbox), rotating over the organizations of the credentials
-- file with their access tokens and over each one's businesses.
-- usage: wrk ... -s calls.lua URL -- CREDENTIALS_FILE
dofile ((debug.getinfo (1, "S").source:match ("^@(.*/)") or "./") .. "common.lua")

local STATUSES = { "completed", "completed", "completed", "missed", "voicemail", "transferred" }
local next_org, headers_of, norgs

function init (args)
    local orgs = bench_orgs (args [1])
    headers_of = {}
    for _, org in ipairs (orgs) do
        headers_of [org] = { ["Authorization"] = "Bearer " .. org.token,
                             ["Content-Type"] = "application/json" }
    end
    norgs = #orgs
    next_org = bench_cycle (orgs)
    math.randomseed (os.time () + (tid or 0) * 104729)
end

function request ()
    local org, n = next_org ()
    -- The next business of this organization each time its turn comes.
    local biz = org.businesses [math.floor (n / norgs) % #org.businesses + 1]
    -- Started a minute to a day ago (never in the future, which is refused).
    local started = os.date ("!%Y-%m-%dT%H:%M:%SZ", os.time () - 60 - math.random (0, 86400))
    local status = STATUSES [n % #STATUSES + 1]
    local duration = status == "missed" and 0 or math.random (15, 900)
    local body = string.format (
        '{"business_id":"%s","caller_number":"+1415%07d","started_at":"%s",' ..
        '"duration_seconds":%d,"status":"%s","summary":"Caller asked about opening hours"}',
        biz, math.random (0, 9999999), started, duration, status)
    return wrk.format ("POST", "/v1/calls", headers_of [org], body)
end
