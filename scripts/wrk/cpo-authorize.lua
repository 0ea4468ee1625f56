-- POST /main/v1/cpo-token-authorization for a random one of the seeded
-- uids <prefix>000000… (asked in lower case: uids compare
-- case-insensitively). args: uid prefix, token count, Authorization value.
-- A denial is a 200 like an allowance; only non-2xx answers are errors.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local prefix, n = "cpo", 1
function init(args)
  prefix, n = args[1], tonumber(args[2])
  wrk.headers["Authorization"] = args[3]
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  local body = string.format('{"token_uid":"%s%06d","location_id":"LOC-BENCH-1","evse_uids":["EVSE-1","EVSE-2"]}', prefix, math.random(0, n - 1))
  return wrk.format("POST", "/main/v1/cpo-token-authorization", nil, body)
end
function done(summary, latency, requests) report(summary, latency) end
