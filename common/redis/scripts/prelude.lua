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

-- Appends an event to the outbox stream (fields: i event id, y type, c count id, d delta,
-- v value, t time in ms, s source service, p = 1 when a deletion purges the history, and tp
-- the traceparent of the request that made the change, when it has one). Returns the entry's
-- stream id (its outbox position).
local function emit(stream, event_id, kind, count, delta, value, now, source, purge, trace)
  local f = {'i', event_id, 'y', kind, 'c', count, 'd', delta, 'v', value, 't', now, 's', source}
  if purge then
    f[#f + 1] = 'p'
    f[#f + 1] = '1'
  end
  if trace and trace ~= '' then
    f[#f + 1] = 'tp'
    f[#f + 1] = trace
  end
  return redis.call('XADD', stream, '*', unpack(f))
end

-- The count id in a key 'count:{<id>}'.
local function count_id(key) return key:sub(8, -2) end
