-- wrk script: Quadcode-style debit/credit traffic with fresh request_ids and a valid ES256 token.
-- BENCH_SCENARIO: spread (random balance of BENCH_BALANCES), hot (balance 1 only),
--                 replay (a fixed set of 1000 request_ids sent again and again).
local scenario = os.getenv("BENCH_SCENARIO") or "spread"
local balances = tonumber(os.getenv("BENCH_BALANCES") or "10000")
local token = os.getenv("BENCH_TOKEN")
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tid * 7919)
  headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

function request()
  counter = counter + 1
  local b, op, rid
  if scenario == "hot" then
    b = 1
    op = (counter % 2 == 0) and "credit" or "debit"
    rid = string.format("%s-%s-%d-%d", run, scenario, tid, counter)
  elseif scenario == "replay" then
    local n = counter % 1000
    b = n + 1
    op = "debit"
    rid = string.format("%s-replay-%d-%d", run, tid, n)
  else
    b = math.random(1, balances)
    op = (math.random() < 0.5) and "credit" or "debit"
    rid = string.format("%s-%s-%d-%d", run, scenario, tid, counter)
  end
  local body = string.format('{"request_id":"%s","amount":"1.25","currency_code":"USD","comment":"bench"}', rid)
  return wrk.format("POST", string.format("/v1/customers/c%d/balances/b%d_USD/%s", b, b, op), headers, body)
end

if delay_ms > 0 then
  -- a steady pace instead of a saturating one (the soak run): each connection pauses between calls
  function delay()
    return delay_ms
  end
end
