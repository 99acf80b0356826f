-- wrk script: every request asks for one page of a hot set of 50 (`cursor=hot-1` … `hot-50`), drawn at random.
local here = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
dofile(here .. 'wrk-report.lua')

local HOT_SET = 50
math.randomseed(7)

function request()
  return wrk.format(nil, wrk.path .. '&cursor=hot-' .. math.random(HOT_SET))
end
