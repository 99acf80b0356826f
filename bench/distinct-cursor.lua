-- wrk script: append a fresh `cursor` to every request path, so neither the cache nor coalescing can help.
local here = debug.getinfo(1, 'S').source:match('^@(.*/)') or './'
dofile(here .. 'wrk-report.lua')

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set('thread_id', threads)
end

local counter = 0
function request()
  counter = counter + 1
  local path = wrk.path .. '&cursor=c' .. (thread_id or 0) .. '-' .. counter
  return wrk.format(nil, path)
end
