-- bench/lua/usage.lua — POST /v1/usage/events with BENCH_USAGE_BATCH (100)
-- events a request, rotating over the organizations of the credentials file
-- with their access tokens. Event ids are new (a random run tag, the
-- thread, a sequence number), except that BENCH_USAGE_REPEATS (10) events
-- of each batch reuse ids this thread sent the same organization in its
-- previous batch — a client retrying — so that deduplication is exercised
-- (ids are unique per organization: a repeat must go to the same one).
-- usage: wrk ... -s usage.lua URL -- CREDENTIALS_FILE
dofile ((debug.getinfo (1, "S").source:match ("^@(.*/)") or "./") .. "common.lua")

local BATCH = tonumber (os.getenv ("BENCH_USAGE_BATCH") or "100")
local REPEATS = tonumber (os.getenv ("BENCH_USAGE_REPEATS") or "10")
local METRICS = { "call_minutes", "llm_tokens", "sms_segments", "transfers" }
local next_org, headers_of, last_ids, tag, seq

function init (args)
    local orgs = bench_orgs (args [1])
    headers_of, last_ids = {}, {}
    for _, org in ipairs (orgs) do
        headers_of [org] = { ["Authorization"] = "Bearer " .. org.token,
                             ["Content-Type"] = "application/json" }
    end
    next_org = bench_cycle (orgs)
    math.randomseed (os.time () * 31 + (tid or 0) * 7907 + math.floor (os.clock () * 1e6))
    tag = string.format ("%x%04x", os.time (), math.random (0, 0xffff))
    seq = 0
end

function request ()
    local org = next_org ()
    local at = os.date ("!%Y-%m-%dT%H:%M:%SZ")
    local before, ids, events = last_ids [org], {}, {}
    for i = 1, BATCH do
        local id
        if before and i <= REPEATS and before [i] then
            id = before [i]
        else
            seq = seq + 1
            id = string.format ("ev-%s-%d-%d", tag, tid or 0, seq)
        end
        ids [i] = id
        events [i] = string.format (
            '{"id":"%s","metric":"%s","quantity":%d,"occurred_at":"%s","properties":{"src":"bench"}}',
            id, METRICS [i % #METRICS + 1], i % 17 + 1, at)
    end
    -- The repeats next time: ids that were new in this batch.
    last_ids [org] = { select (REPEATS + 1, unpack (ids)) }
    return wrk.format ("POST", "/v1/usage/events", headers_of [org],
                       '{"events":[' .. table.concat (events, ",") .. ']}')
end
