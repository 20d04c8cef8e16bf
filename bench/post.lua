-- wrk: POST a small JSON token record with the acting-user tokens listed in
-- the file given after "--"; each connection uses its own token when there
-- are enough, so that writers do not overwrite each other.
local tokens = {}
local mine
local n = 0
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  mine = tokens[((id or 1) - 1) % #tokens + 1]
end
function request()
  n = n + 1
  local body = '{"access_token":"gho_bench","seq":' .. n .. '}'
  return wrk.format("POST", nil, {["Authorization"] = "Bearer " .. mine,
                                  ["Content-Type"] = "application/json"}, body)
end
