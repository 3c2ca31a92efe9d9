-- wrk script of benchmarks/bench_api.py: POST /orders with a unique Idempotency-Key and a unique
-- external_id per request (per-thread counters), counting the answers by status.
-- Arguments (after "--"): token, run prefix, then the order JSON with the marker @EXT@ where
-- the external id goes.
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  prefix = args[2]
  template = args[3]
  n = 0
  created = 0
  existing = 0
  other = 0
end

function request()
  n = n + 1
  local ext = prefix .. "-" .. tid .. "-" .. n
  local body = template:gsub("@EXT@", ext)
  return wrk.format("POST", "/orders", {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = ext,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  elseif status == 200 then
    existing = existing + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c, e, o = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    e = e + t:get("existing")
    o = o + t:get("other")
  end
  local s = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "created": %d, "existing": %d, "other": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d, '
      .. '"p50_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %d}\n',
    summary.requests, summary.duration, c, e, o, s.connect, s.read, s.write, s.timeout,
    s.status, latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
