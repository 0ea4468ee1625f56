-- POST /main/v1/customer/ext_ref.bench-NNNNNN with a changing name, so that
-- every update writes; args: administration id, Authorization value, number of refs.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local admin, refs, n = "", 1, 0
function init(args)
  admin, refs = args[1], tonumber(args[3])
  wrk.headers["Authorization"] = args[2]
  wrk.headers["Content-Type"] = "application/json"
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  n = n + 1
  local ref = string.format("bench-%06d", math.random(refs) - 1)
  local body = string.format('{"administration_id":"%s","name":"Bench %s %d","country":"NL","entity_type":"person"}', admin, ref, n)
  return wrk.format("POST", "/main/v1/customer/ext_ref." .. ref, nil, body)
end
function done(summary, latency, requests) report(summary, latency) end
