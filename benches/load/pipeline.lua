-- wrk script: send each connection's requests DEPTH deep in one write (HTTP/1.1 pipelining).
-- Usage: wrk ... -s pipeline.lua URL -- DEPTH   (DEPTH defaults to 16)
-- wrk counts every response, so Requests/sec is responses per second; latency is per batch.

init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil)
  end
  req = table.concat(r)
end

request = function()
  return req
end
