-- POST /ocpi/2.2.1/emsp/tokens/<uid>/authorize?type=RFID with LocationReferences,
-- for a random one of the seeded tokens (uids tok000000…, asked in lower case:
-- UIDs compare case-insensitively). args: token count, Authorization value.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local n = 1
local body = '{"location_id":"LOC-BENCH-1","evse_uids":["EVSE-1","EVSE-2"]}'
function init(args)
  n = tonumber(args[1])
  wrk.headers["Authorization"] = args[2]
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["OCPI-from-country-code"] = "DE"
  wrk.headers["OCPI-from-party-id"] = "CPO"
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  local path = string.format("/ocpi/2.2.1/emsp/tokens/tok%06d/authorize?type=RFID", math.random(0, n - 1))
  return wrk.format("POST", path, nil, body)
end
-- A non-2xx answer (an unknown token is HTTP 404 / 2004) counts as an error in report().
function done(summary, latency, requests) report(summary, latency) end
