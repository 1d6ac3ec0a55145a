-- wrk script for benchmarks/serving.py: POST /api/ask, every question phrased differently.
-- args[1]: a file of JSON-escaped questions, one a line; each request adds a reader's name
-- made of letters from its own number (a number in a question would make the bot decline).
local questions = {}
local number = 0

local function letters(n)
  local text = ""
  repeat
    text = string.char(97 + n % 26) .. text
    n = math.floor(n / 26)
  until n == 0
  return text
end

function init(args)
  for line in io.lines(args[1]) do questions[#questions + 1] = line end
end

function request()
  number = number + 1
  local body = '{"question": "' .. questions[number % #questions + 1] .. ' (reader ' ..
               letters(number) .. ')"}'
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('{"answers": %d, "microseconds": %d, "p50": %d, "p95": %d, ' ..
                         '"errors": %d}\n', summary.requests, summary.duration,
                         latency:percentile(50), latency:percentile(95),
                         errors.connect + errors.read + errors.write + errors.timeout +
                         errors.status))
end
