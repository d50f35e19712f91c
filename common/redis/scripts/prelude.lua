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
-- ends (publish), since Redis's cost (and the AOF's and the replica's) is per command and per
-- argument. Each event is one field `e` whose value holds its parts in a fixed order,
-- separated by the unit separator (byte 31, which no id, number or traceparent contains):
-- event id, type, count id, delta, value, time in ms, source service, purge ('1' when a
-- deletion purges the history, else ''), the traceparent of the request that made the change
-- ('' when none), the part of a sharded counter whose value the event carries (sub-counter
-- i, or -1 for the counter's own key: sub_counter below), written only when there is one, so
-- every other event keeps the 9 parts that relays before it read.
-- The relay splits them (common/redis/redis_outbox.cpp). `<stream>:size`
-- counts the events the stream holds (its XLEN counts entries): the backlog limit and the
-- outbox_backlog gauge are in events.
local outbox, outbox_events = {}, 0
local function emit(event_id, kind, count, delta, value, now, source, purge, trace, part)
  local n = #outbox
  outbox[n + 1] = 'e'
  outbox[n + 2] = event_id .. '\31' .. kind .. '\31' .. count .. '\31' .. delta .. '\31' .. value ..
                  '\31' .. now .. '\31' .. source .. '\31' .. (purge and '1' or '') .. '\31' ..
                  (trace or '') .. ((part and part ~= '') and ('\31' .. part) or '')
  outbox_events = outbox_events + 1
end

-- The events in the stream now, for the backlog limit.
local function outbox_size(stream)
  return tonumber(redis.call('GET', stream .. ':size') or '0')
end

-- Writes what emit collected as one entry. A call carries at most 1,000 operations
-- (RedisCountValueStore::kMaxBatch), so 2,000 arguments at most: within what Lua's unpack
-- can pass (its C stack holds 8,000). Returns the entry's stream id (the outbox position of
-- the call's events), nil when there were none.
local function publish(stream)
  if outbox_events == 0 then return nil end
  local id = redis.call('XADD', stream, '*', unpack(outbox))
  redis.call('INCRBY', stream .. ':size', outbox_events)
  return id
end

-- The count id in a key 'count:{<id>}', or 'count:{<tag>}:<id>' on a Redis Cluster
-- (common/redis/key_layout.hpp; ids hold no braces). A sub-counter '<id>#<i>' of a sharded
-- counter gives its counter's id: its events are the counter's.
local function count_id(key)
  local close = string.find(key, '}', 8, true)
  if close == #key then return key:sub(8, -2) end
  local id = key:sub(close + 2)
  local hash = string.find(id, '#', 1, true)
  return hash and id:sub(1, hash - 1) or id
end

-- The sub-counter a key '<prefix><id>#<i>' is (docs/API.md, "Hot counters"): i, or '' for a
-- counter's own key.
local function sub_counter(key)
  local hash = string.find(key, '#', 8, true)
  return hash and key:sub(hash + 1) or ''
end
