-- Trims the events the relay has published from the outbox and records how far the bus has
-- acknowledged it: WRITE_ACK=kafka answers a write once this record passes its event
-- (redis/redis_event_acks.hpp).
--
-- KEYS: the event stream, then the record (a hash: base, last). ARGV (named): first and last
-- (the stream ids of the batch), after (the id just after last) and count (entries read).
-- The record says: every event from base to last was acknowledged by the bus. When the trim
-- removes other than `count` entries, this stream is not the one the batch was read from
-- (Redis was wiped in between): the record is dropped, so the next batch starts a new base
-- and no event lost with the old stream is ever reported as acknowledged.
-- Returns 1 when the record advanced, 0 when it was dropped.
local args = named_args()
local trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '=', args.after)
if trimmed ~= tonumber(args.count) then
  redis.call('DEL', KEYS[2])
  return 0
end
local base = redis.call('HGET', KEYS[2], 'base') or args.first
redis.call('HSET', KEYS[2], 'base', base, 'last', args.last)
return 1
