-- Puts back a counter rebuilt after Redis was lost (count-analysis-service rebuild-values): its
-- value and information, without an event, since the history already holds its changes.
-- KEYS: count:{id}. ARGV (named): value, created, updated (ms), description, min, max ('' = none),
-- sharded (as create.lua).
-- Returns 1, or 0 when the counter exists.
local args = named_args()
local key = KEYS[1]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'v', args.value, 'c', args.created, 'u', args.updated,
           'd', args.description)
if args.min ~= '' then redis.call('HSET', key, 'mn', args.min) end
if args.max ~= '' then redis.call('HSET', key, 'mx', args.max) end
if args.sharded ~= '' then redis.call('HSET', key, 'sh', args.sharded) end
return 1
