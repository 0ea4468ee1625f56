-- GET an OCPI path with a credentials token; args: path, Authorization value.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local path = "/"
function init(args)
  path = args[1]
  wrk.headers["Authorization"] = args[2]
end
function request() return wrk.format("GET", path) end
function done(summary, latency, requests) report(summary, latency) end
