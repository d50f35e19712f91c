-- Shared by every script (prepended at load). Values are canonical signed decimal strings and
-- never pass through Lua numbers (doubles), so values beyond 2^53 stay exact.

-- Named arguments: ARGV is name, value, name, value, ... up to an optional '--'; what follows
-- the marker is returned as the rest (the per-operation lists of apply.lua).
local function named_args()
  local args, i = {}, 1
  while i <= #ARGV and ARGV[i] ~= '--' do
    args[ARGV[i]] = ARGV[i + 1]
    i = i + 2
  end
  return args, i + 1
end

-- -1, 0 or 1 as the decimal a is below, equal to or above the decimal b.
local function cmp(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then return na and -1 or 1 end
  local r = 0
  if #a ~= #b then r = #a < #b and -1 or 1 elseif a ~= b then r = a < b and -1 or 1 end
  return na and -r or r
end

-- -a, or '' when it leaves int64 (only for the minimum).
local function neg(a)
  if a == '0' then return '0' end
  if a == '-9223372036854775808' then return '' end
  if a:sub(1, 1) == '-' then return a:sub(2) end
  return '-' .. a
end

-- The outbox: the events of one script call go to the stream as one entry when the script
-- ends (publish), since Redis's cost (and the AOF's and the replica's) is per command, not per
-- field. Each event is a run of fields that starts with its own `i`: i event id, y type, c
-- count id, d delta, v value, t time in ms, s source service, p = 1 when a deletion purges the
-- history, and tp the traceparent of the request that made the change, when it has one. The
-- relay splits an entry back into its events (common/redis/redis_outbox.cpp). `<stream>:size`
-- counts the events the stream holds (its XLEN counts entries): the backlog limit and the
-- outbox_backlog gauge are in events.
local outbox, outbox_events = {}, 0
local function emit(event_id, kind, count, delta, value, now, source, purge, trace)
  local n = #outbox
  outbox[n + 1], outbox[n + 2], outbox[n + 3], outbox[n + 4] = 'i', event_id, 'y', kind
  outbox[n + 5], outbox[n + 6], outbox[n + 7], outbox[n + 8] = 'c', count, 'd', delta
  outbox[n + 9], outbox[n + 10], outbox[n + 11], outbox[n + 12] = 'v', value, 't', now
  outbox[n + 13], outbox[n + 14] = 's', source
  n = n + 14
  if purge then
    outbox[n + 1], outbox[n + 2] = 'p', '1'
    n = n + 2
  end
  if trace and trace ~= '' then
    outbox[n + 1], outbox[n + 2] = 'tp', trace
  end
  outbox_events = outbox_events + 1
end

-- The events in the stream now, for the backlog limit.
local function outbox_size(stream)
  return tonumber(redis.call('GET', stream .. ':size') or '0')
end

-- Writes what emit collected. An entry holds at most 4,000 fields and values (Lua's unpack
-- is bounded by its C stack), so a large batch takes a few entries; each ends on an event.
-- Returns the stream id of the last entry written (its outbox position), nil when none.
local function publish(stream)
  local first, id = 1, nil
  while first <= #outbox do
    -- Names sit at odd places and `last` stays even, so outbox[last + 1] is a name.
    local last = math.min(first + 3999, #outbox)
    while last < #outbox and outbox[last + 1] ~= 'i' do last = last - 2 end
    id = redis.call('XADD', stream, '*', unpack(outbox, first, last))
    first = last + 1
  end
  if outbox_events > 0 then redis.call('INCRBY', stream .. ':size', outbox_events) end
  return id
end

-- The count id in a key 'count:{<id>}'.
local function count_id(key) return key:sub(8, -2) end
