-- Shared by the wrk scripts of scripts/bench: a one-line result with exact
-- counts and wrk's latency percentiles (HdrHistogram), in milliseconds.
function report(summary, latency)
  local s = summary.duration / 1e6
  local e = summary.errors
  local errs = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "wrk requests %d errors %d (status %d, connect %d, read %d, write %d, timeout %d) ok/s %.1f p50 %.2f p90 %.2f p99 %.2f max %.2f ms\n",
    summary.requests, errs, e.status, e.connect, e.read, e.write, e.timeout, (summary.requests - errs) / s,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
