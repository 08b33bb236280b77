-- wrk script for bench/run.sh: every request the same, with the API key.
--   WRK_KEY   the API key (Authorization: Bearer)
--   WRK_BODY  a file whose bytes are POSTed as JSON; without it the request is a GET
-- At the end it prints one JSON line: requests, seconds, answers that were not 2xx/3xx,
-- transport errors, and latency percentiles in milliseconds.
local key = os.getenv("WRK_KEY") or error("WRK_KEY is not set")
wrk.headers["Authorization"] = "Bearer " .. key
local body_file = os.getenv("WRK_BODY")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"per_s":%.1f,"not_2xx":%d,"transport_errors":%d,' ..
    '"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
