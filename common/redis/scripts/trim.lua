-- Forgets what the relay published: the stream's entries before `min_id` and their `events`
-- from the stream's event count (prelude.lua's publish); and records how far the bus has
-- acknowledged the outbox, which WRITE_ACK=kafka answers a write by
-- (redis/redis_event_acks.hpp).
--
-- KEYS: the event stream, its count, the record (a hash: epoch, base, last) and the stream's
-- epoch key (apply.lua). ARGV (named): min_id, events, entries (the batch's entries), first and
-- last (their stream ids), event (the id of the last entry's first event).
-- The record says: every event of the stream of that epoch from base to last was acknowledged
-- by the bus. When the stream is not the one the batch was read from (Redis was wiped in
-- between: its entry at `last` is another one or none, even where new ids repeat old ones
-- within a millisecond), nothing is trimmed (those entries are not published) and the record
-- is dropped, so no event lost with the old stream is ever reported as acknowledged.
-- Returns 1 when the record advanced, 0 when it was dropped.
local args = named_args()
local at = redis.call('XRANGE', KEYS[1], args.last, args.last)
-- The entry's first event (prelude.lua's emit: field 'e', its parts after its id).
local first = at[1] and at[1][2][2]
local same = first ~= nil and
               (args.event == '' or string.sub(first, 1, #args.event + 1) == args.event .. '\31')
local trimmed = 0
if same then trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '=', args.min_id) end
if not same or trimmed ~= tonumber(args.entries) then
  redis.call('DEL', KEYS[3])
  if not same then return 0 end
end
local left = redis.call('DECRBY', KEYS[2], args.events)
-- Below zero only after the count was lost (a restore of the stream without it).
if left < 0 then redis.call('SET', KEYS[2], 0) end
if trimmed ~= tonumber(args.entries) then return 0 end
local epoch = redis.call('GET', KEYS[4]) or ''
local record = redis.call('HMGET', KEYS[3], 'epoch', 'base')
local base = (record[1] == epoch and record[2]) or args.first
redis.call('HSET', KEYS[3], 'epoch', epoch, 'base', base, 'last', args.last)
return 1
