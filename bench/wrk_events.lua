-- wrk script: POST /v1/events with unique event ids.
--   BENCH_KEY   API key (public or admin)
--   BENCH_BATCH events per request (default 1)
local key = os.getenv("BENCH_KEY") or ""
local batch = tonumber(os.getenv("BENCH_BATCH") or "1")
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  prefix = "wrk-" .. os.time() .. "-" .. thread_id .. "-"
  counter = 0
  headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key}
end

local function event(n)
  return '{"event_id":"' .. prefix .. n .. '","type":"view","user_id":"u' .. (n % 50000) ..
         '","session_id":"s' .. (n % 80000) .. '","item_id":"i' .. (n * 7919 % 20000) ..
         '","context":{"device":"mobile","page":"/product"}}'
end

request = function()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = event(counter)
  end
  local body = batch == 1 and parts[1] or ("[" .. table.concat(parts, ",") .. "]")
  return wrk.format("POST", "/v1/events", headers, body)
end

response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("unexpected status " .. status .. ": " .. body:sub(1, 200) .. "\n")
  end
end
