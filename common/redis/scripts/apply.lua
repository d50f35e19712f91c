-- Applies the mutations of one or more requests (group commit: requests that arrived while
-- an earlier call was in flight go out together). Each request keeps its own answer,
-- idempotency record and events; each mutation is applied on its own. The whole call is one
-- atomic step. This is the counting rule of the value store: every implementation of
-- CountValueStore passes the same contract suite
-- (common/testing/count_value_store_contract.hpp).
--
-- KEYS: for each request, count:{id} per operation in order, then idem:<key> when the
-- request has an Idempotency-Key; last, the event stream and its epoch key (the lineage of the
-- stream: an event id of the first call that wrote to it since it was created).
-- ARGV (named): now (ms), ttl (s), source, max_backlog; then '--' and for each request: ops
-- (its number of operations), idempotent ('1' when its idem key follows its count keys),
-- fingerprint; then per operation: kind ('add': a signed delta | 'set'), operand (decimal),
-- event (id), trace (the request's traceparent, '' when none).
-- Returns one flat array (Redis converts every Lua table of a reply, probing it for fields, so
-- nested answers cost more than the arithmetic): per request its status (applied | replayed |
-- conflict | backlog | sharded), position and number of results, then per result code (ok |
-- notfound | overflow | min | max | sharded), value, updatedAt, delta. A sharded counter (field
-- `sh`: its number of sub-counters, docs/API.md "Hot counters") refuses `set` ('sharded'); an
-- increment or decrement sent to it rather than to a sub-counter, on a Redis Cluster where it
-- has sub-counters, changes nothing in its request: status 'sharded', and per operation code
-- 'sharded' with the number of sub-counters as value (or 'whole'), so the caller learns
-- where to send it and sends the request again. The position is
-- '<epoch>/<stream id of the entry holding the request's events>' ('' when it made none; a
-- replay gives the first call's, kept in the idempotency record), which WRITE_ACK=kafka waits
-- for.
local args, a = named_args()
local stream, epoch = KEYS[#KEYS - 1], KEYS[#KEYS]
-- The answer, and where in it (with which idempotency key) this call's outbox position goes
-- once publish wrote it.
local out, positioned = {}, {}
local function put(code, value, now, delta)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = code, value, now, delta
end
-- The events this call may still add before the outbox holds max_backlog.
local room = tonumber(args.max_backlog) - outbox_size(stream)

-- Each counter's fields are read once and written once per call, whatever number of its
-- mutations the call carries: Redis's cost is per command (and every write is copied to the
-- AOF and the replica), so a batch of increments to one counter costs one HMGET, one HSET and
-- its events.
local counters = {}
local function counter(key)
  local c = counters[key]
  if not c then
    local h = redis.call('HMGET', key, 'v', 'mn', 'mx', 'u', 'sh')
    c = {v = h[1], mn = h[2], mx = h[3], u = h[4], sh = h[5], id = count_id(key),
         part = sub_counter(key), dirty = false}
    counters[key] = c
  end
  return c
end

-- a + b exactly, '' when it leaves int64. Operands of at most 15 characters (|x| < 10^15) add
-- as Lua numbers, which are doubles and exact below 2^53; longer ones go through HINCRBY on a
-- scratch field, which does int64 arithmetic and refuses to overflow.
local function sum(key, a, b)
  if #a <= 15 and #b <= 15 then return string.format('%d', tonumber(a) + tonumber(b)) end
  local s = ''
  redis.call('HSET', key, 'x', a)
  local r = redis.pcall('HINCRBY', key, 'x', b)
  if not (type(r) == 'table' and r.err) then s = redis.call('HGET', key, 'x') end
  redis.call('HDEL', key, 'x')
  return s
end

local function apply(key, kind, operand, event_id, trace)
  local c = counter(key)
  if not c.v then return 'notfound', '', '', '' end
  if c.sh and kind == 'set' then return 'sharded', '', '', '' end
  -- A counter's time never goes back: another process may have stamped it later than the
  -- time this call was given, and its events must stay in time order (the history's last
  -- value is the latest event's).
  local now = args.now
  if c.u and c.u ~= now and cmp(c.u, now) > 0 then now = c.u end
  local value, delta = operand, operand
  if kind == 'add' then
    value = sum(key, c.v, operand)
    if value == '' then return 'overflow', '', '', '' end
  else
    local minus = neg(c.v)
    delta = minus ~= '' and sum(key, value, minus) or ''
  end
  if c.mn and cmp(value, c.mn) < 0 then return 'min', '', '', '' end
  if c.mx and cmp(value, c.mx) > 0 then return 'max', '', '', '' end
  c.v, c.u, c.dirty = value, now, true
  emit(event_id, 'count_updated', c.id, delta, value, now, args.source, false, trace, c.part)
  room = room - 1
  return 'ok', value, now, delta
end

-- One request: `first_key` is its first count key; `a` the index of its first operation.
local function request(first_key, n, idem, fingerprint, a)
  local at = #out + 2  -- status, position (here) and number of results
  out[at - 1], out[at], out[at + 1] = 'applied', '', 0
  local redirect = false
  for i = 1, n do
    local c = counter(KEYS[first_key + i - 1])
    redirect = redirect or (c.sh and c.sh ~= '0' and ARGV[a + 4 * (i - 1)] == 'add')
  end
  if redirect then
    out[at - 1], out[at + 1] = 'sharded', n
    for i = 1, n do
      local c = counter(KEYS[first_key + i - 1])
      put(c.sh and 'sharded' or 'whole', c.sh or '', '', '')
    end
    return
  end
  if idem then
    local seen = redis.call('HMGET', idem, 'f', 'r', 'p')
    if seen[1] then
      if seen[1] ~= fingerprint then
        out[at - 1], out[at] = 'conflict', ''
        return
      end
      out[at - 1], out[at] = 'replayed', seen[3] or ''
      -- Recorded earlier in this call: its position is this call's.
      if not seen[3] then positioned[#positioned + 1] = {at} end
      local results = cjson.decode(seen[2])
      out[at + 1] = #results
      for _, r in ipairs(results) do put(r[1], r[2], r[3], r[4]) end
      return
    end
  end
  if room <= 0 then
    out[at - 1], out[at] = 'backlog', ''
    return
  end
  out[at + 1] = n
  local any, events = false, outbox_events
  for i = 1, n do
    local o = a + 4 * (i - 1)
    local code, value, now, delta =
      apply(KEYS[first_key + i - 1], ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3])
    any = any or code == 'ok'
    put(code, value, now, delta)
  end
  if idem and any then
    local results = {}
    for i = 1, n do
      local j = at + 1 + 4 * (i - 1)
      results[i] = {out[j + 1], out[j + 2], out[j + 3], out[j + 4]}
    end
    redis.call('HSET', idem, 'f', fingerprint, 'r', cjson.encode(results))
    redis.call('EXPIRE', idem, args.ttl)
  end
  if outbox_events > events then positioned[#positioned + 1] = {at, any and idem} end
end

local k = 1
while a <= #ARGV do
  local n, idempotent, fingerprint = tonumber(ARGV[a]), ARGV[a + 1] == '1', ARGV[a + 2]
  local idem = idempotent and KEYS[k + n] or nil
  request(k, n, idem, fingerprint, a + 3)
  k = k + n + (idempotent and 1 or 0)
  a = a + 3 + 4 * n
end
for key, c in pairs(counters) do
  if c.dirty then redis.call('HSET', key, 'v', c.v, 'u', c.u) end
end
local last = publish(stream)
if last then
  -- This call's first event id (the first part of its first event): unique.
  redis.call('SET', epoch, string.sub(outbox[2], 1, string.find(outbox[2], '\31', 1, true) - 1),
             'NX')
  local position = redis.call('GET', epoch) .. '/' .. last
  for _, p in ipairs(positioned) do
    out[p[1]] = position
    if p[2] then redis.call('HSET', p[2], 'p', position) end
  end
end
return out
