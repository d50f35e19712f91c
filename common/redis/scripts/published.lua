-- Trims the events the relay has published from the outbox and records how far the bus has
-- acknowledged it: WRITE_ACK=kafka answers a write once this record passes its event
-- (redis/redis_event_acks.hpp).
--
-- KEYS: the event stream, the record (a hash: epoch, base, last) and the stream's epoch key
-- (apply.lua). ARGV (named): first and last
-- (the stream ids of the batch), event (the event id of its last entry), after (the id just
-- after last) and count (entries read).
-- The record says: every event of the stream of that epoch from base to last was acknowledged
-- by the bus. When the stream
-- is not the one the batch was read from (Redis was wiped in between: its entry at `last` is
-- another event, or none, even where new ids repeat old ones within a millisecond), nothing
-- is trimmed (those entries are not published) and the record is dropped, so the next batch
-- starts a new base and no event lost with the old stream is ever reported as acknowledged.
-- Returns 1 when the record advanced, 0 when it was dropped.
local args = named_args()
local at = redis.call('XRANGE', KEYS[1], args.last, args.last)
local same = false
if at[1] then
  local f = at[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'i' then same = f[i + 1] == args.event end
  end
end
if not same then
  redis.call('DEL', KEYS[2])
  return 0
end
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '=', args.after)
if trimmed ~= tonumber(args.count) then
  redis.call('DEL', KEYS[2])
  return 0
end
local epoch = redis.call('GET', KEYS[3]) or ''
local record = redis.call('HMGET', KEYS[2], 'epoch', 'base')
local base = (record[1] == epoch and record[2]) or args.first
redis.call('HSET', KEYS[2], 'epoch', epoch, 'base', base, 'last', args.last)
return 1
