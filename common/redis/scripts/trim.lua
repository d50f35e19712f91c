-- Forgets what the relay published: the stream's entries before `min_id` and their `events`
-- from the stream's event count (prelude.lua's publish). KEYS: the event stream, its count.
local args = named_args()
redis.call('XTRIM', KEYS[1], 'MINID', '=', args.min_id)
local left = redis.call('DECRBY', KEYS[2], args.events)
-- Below zero only after the count was lost (a restore of the stream without it).
if left < 0 then redis.call('SET', KEYS[2], 0) end
return 1
