-- GET /main/v1/customer?page_size=50&after=<random id>; args: ids file, Authorization value.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local ids = {}
function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  wrk.headers["Authorization"] = args[2]
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end
function request()
  return wrk.format("GET", "/main/v1/customer?page_size=50&after=" .. ids[math.random(#ids)])
end
function done(summary, latency, requests) report(summary, latency) end
