-- wrk script: POSTs one JSON body to every request and prints one machine-readable line.
--   wrk -s post.lua URL -- BODY_FILE [BEARER_TOKEN]
-- The body is read once per thread; nothing is parsed per response, so the load generator
-- costs the same for every server.

function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json"
  if args[2] ~= nil and args[2] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[2]
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "COMPARE requests=%d duration_us=%d rps=%.2f p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), errors.status,
    errors.connect, errors.read, errors.write, errors.timeout))
end
