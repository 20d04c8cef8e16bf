-- wrk: POST /call to the bench App's /slow/2000 (it answers after 2 s) with
-- the users' own session tokens listed in the file given after "--"; counts
-- the answers that came from the App ("type":"ok") and the error responses
-- ("type":"error": refused, timed out), and prints them in done().
local tokens = {}
local i = 0
local body = '{"path":"/slow/2000","context":{"app_id":"bench-app"}}'
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  i = math.random(#tokens)
  ok = 0
  errors = 0
end

function request()
  i = i % #tokens + 1
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. tokens[i],
                                  ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, resp)
  if status == 200 and resp:find('"type":"ok"', 1, true) then
    ok = ok + 1
  else
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local o, e = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    e = e + t:get("errors")
  end
  io.write(string.format("calls: ok=%d errors=%d\n", o, e))
end
