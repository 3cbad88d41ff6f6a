-- bench/lua/common.lua — loaded by every scenario script of bench/bench.sh
-- (dofile, from the directory of the script). It gives each wrk thread a
-- number (tid, from 0), reads the credentials file the seeding wrote
-- (bench_orgs), cycles over lists (bench_cycle, bench_serve), and prints
-- one machine-readable summary line at the end:
--
--   BENCH_JSON {"requests":…,"duration_us":…,"status_errors":…,…}
--
-- that bench/tools/report.py reads (the usual wrk text is printed too).
-- With BENCH_STATUS=1 in the environment each thread also tallies the
-- response statuses (a response() callback costs wrk some speed, so the
-- measured runs leave it off; bench.sh uses it for a short probe when a
-- scenario had errors) and the summary carries {"statuses":{"200":…}}.

local threads, next_tid = {}, 0

function setup (thread)
    thread:set ("tid", next_tid)
    next_tid = next_tid + 1
    threads [#threads + 1] = thread
end

-- The credentials file: one organization a line, tab-separated:
--   email  access_token  api_key  business_id,business_id,...
function bench_orgs (path)
    local orgs = {}
    if not path or path == "" then error ("no credentials file given (wrk ... -- FILE)") end
    for line in io.lines (path) do
        local email, token, key, biz = line:match ("^([^\t]+)\t([^\t]+)\t([^\t]+)\t([^\t]*)$")
        if email then
            local ids = {}
            for id in biz:gmatch ("[^,]+") do ids [#ids + 1] = id end
            orgs [#orgs + 1] = { email = email, token = token, key = key, businesses = ids }
        end
    end
    if #orgs == 0 then error ("no organizations in " .. path) end
    return orgs
end

-- A cycling picker over a list, each thread starting at its own place.
function bench_cycle (list)
    local i = (tid or 0) * 7919
    return function ()
        i = i + 1
        return list [i % #list + 1], i
    end
end

-- Send the pre-built requests of a list in turn (called from init: wrk
-- looks for request() after init has run).
function bench_serve (prepared)
    local next_request = bench_cycle (prepared)
    request = function ()
        return (next_request ())
    end
end

if os.getenv ("BENCH_STATUS") == "1" then
    statuses = {}
    function response (status, headers, body)
        local k = tostring (status)
        statuses [k] = (statuses [k] or 0) + 1
    end
end

function done (summary, latency, requests)
    local e = summary.errors
    local extra = ""
    if os.getenv ("BENCH_STATUS") == "1" then
        local total = {}
        for _, t in ipairs (threads) do
            local s = t:get ("statuses") or {}
            for k, n in pairs (s) do total [k] = (total [k] or 0) + n end
        end
        local parts = {}
        for k, n in pairs (total) do parts [#parts + 1] = string.format ('"%s":%d', k, n) end
        extra = ',"statuses":{' .. table.concat (parts, ",") .. '}'
    end
    io.write (string.format (
        'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,' ..
        '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
        '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f%s}\n',
        summary.requests, summary.duration, summary.bytes, e.status,
        e.connect, e.read, e.write, e.timeout,
        latency:percentile (50), latency:percentile (90), latency:percentile (99),
        latency:percentile (99.9), latency.max, latency.mean, extra))
end
