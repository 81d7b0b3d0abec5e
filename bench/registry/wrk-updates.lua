-- wrk script for bench/registry/updates.ts: every request is a signed address update with its own
-- pre-signed device JWT (unique jti), so none is refused as a replay. argv: TOKENS_FILE THREADS.
-- Each line of TOKENS_FILE is "<device id> <jwt>"; thread n takes the lines with index % THREADS == n.
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local tokens = {}
local idx = 0
function init(args)
  local threads = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % threads == tid then
      local id, jwt = line:match("(%S+) (%S+)")
      tokens[#tokens + 1] = { id, jwt }
    end
    n = n + 1
  end
end

function request()
  idx = idx + 1
  local t = tokens[idx]
  if t == nil then
    -- out of fresh tokens: reuse one, which the registry refuses as a replay (counted as non-2xx)
    t = tokens[1]
  end
  local body = '{"ipv4":"198.51.100.' .. (idx % 250) .. '"}'
  return wrk.format("PUT", "/v1/devices/" .. t[1] .. "/address", { ["authorization"] = "Bearer " .. t[2], ["content-type"] = "application/json" }, body)
end
