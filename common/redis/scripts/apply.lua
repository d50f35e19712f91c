-- Applies the mutations of one or more requests (group commit: requests that arrived while
-- an earlier call was in flight go out together). Each request keeps its own answer,
-- idempotency record and events; each mutation is applied on its own. The whole call is one
-- atomic step. This is the counting rule of the value store: every implementation of
-- CountValueStore passes the same contract suite
-- (common/testing/count_value_store_contract.hpp).
--
-- KEYS: for each request, count:{id} per operation in order, then idem:<key> when the
-- request has an Idempotency-Key; last, the event stream and its epoch key (the lineage of the
-- stream: the event id of the first request applied since it was created).
-- ARGV (named): now (ms), ttl (s), source, max_backlog; then '--' and for each request: ops
-- (its number of operations), idempotent ('1' when its idem key follows its count keys),
-- fingerprint; then per operation: kind ('add': a signed delta | 'set'), operand (decimal),
-- event (id), trace (the request's traceparent, '' when none).
-- Returns one {status, {result per operation}, position} per request: status applied |
-- replayed | conflict | backlog; a result is {code, value, updatedAt, delta} with code ok |
-- notfound | overflow | min | max; position is '<epoch>/<stream id of the request's last event>'
-- ('' when it made none; a replay returns the first call's), which WRITE_ACK=kafka waits for.
local args, a = named_args()
local stream, epoch = KEYS[#KEYS - 1], KEYS[#KEYS]
local emitted = ''  -- the stream id of the current request's last event

-- new - old exactly, through HINCRBY on a scratch field; '' when it leaves int64.
local function diff(key, new, old)
  local d = ''
  local minus = neg(old)
  if minus ~= '' then
    redis.call('HSET', key, 'x', new)
    local r = redis.pcall('HINCRBY', key, 'x', minus)
    if not (type(r) == 'table' and r.err) then d = redis.call('HGET', key, 'x') end
    redis.call('HDEL', key, 'x')
  end
  return d
end

local function apply(key, kind, operand, event_id, trace)
  local h = redis.call('HMGET', key, 'v', 'mn', 'mx', 'u')
  local old, mn, mx = h[1], h[2], h[3]
  if not old then return {'notfound', '', '', ''} end
  -- A counter's time never goes back: another process may have stamped it later than the
  -- time this call was given, and its events must stay in time order (the history's last
  -- value is the latest event's).
  local now = args.now
  if h[4] and cmp(h[4], now) > 0 then now = h[4] end
  local value, delta = operand, ''
  if kind == 'add' then
    -- HINCRBY does exact int64 arithmetic and refuses to overflow.
    local r = redis.pcall('HINCRBY', key, 'v', operand)
    if type(r) == 'table' and r.err then
      if string.find(r.err, 'overflow', 1, true) then return {'overflow', '', '', ''} end
      error(r.err)
    end
    value, delta = redis.call('HGET', key, 'v'), operand
  end
  local refused = (mn and cmp(value, mn) < 0 and 'min') or (mx and cmp(value, mx) > 0 and 'max')
  if refused then
    if kind == 'add' then redis.call('HSET', key, 'v', old) end
    return {refused, '', '', ''}
  end
  if kind == 'set' then delta = diff(key, value, old) end
  redis.call('HSET', key, 'v', value, 'u', now)
  emitted = emit(stream, event_id, 'count_updated', count_id(key), delta, value, now, args.source,
                 false, trace)
  return {'ok', value, now, delta}
end

-- One request: `first_key` is its first count key; `a` the index of its first operation.
local function request(first_key, n, idem, fingerprint, a)
  if idem then
    local seen = redis.call('HMGET', idem, 'f', 'r', 'p')
    if seen[1] then
      if seen[1] ~= fingerprint then return {'conflict', {}} end
      return {'replayed', cjson.decode(seen[2]), seen[3] or ''}
    end
  end
  if redis.call('XLEN', stream) >= tonumber(args.max_backlog) then return {'backlog', {}} end
  local results, any = {}, false
  emitted = ''
  for i = 1, n do
    local o = a + 4 * (i - 1)
    local r = apply(KEYS[first_key + i - 1], ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3])
    any = any or r[1] == 'ok'
    results[i] = r
  end
  if emitted ~= '' then
    redis.call('SET', epoch, ARGV[a + 2], 'NX')  -- an event id of this request: unique
    emitted = redis.call('GET', epoch) .. '/' .. emitted
  end
  if idem and any then
    redis.call('HSET', idem, 'f', fingerprint, 'r', cjson.encode(results), 'p', emitted)
    redis.call('EXPIRE', idem, args.ttl)
  end
  return {'applied', results, emitted}
end

local answers, k = {}, 1
while a <= #ARGV do
  local n, idempotent, fingerprint = tonumber(ARGV[a]), ARGV[a + 1] == '1', ARGV[a + 2]
  local idem = idempotent and KEYS[k + n] or nil
  answers[#answers + 1] = request(k, n, idem, fingerprint, a + 3)
  k = k + n + (idempotent and 1 or 0)
  a = a + 3 + 4 * n
end
return answers
