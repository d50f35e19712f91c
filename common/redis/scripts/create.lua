-- Creates a counter with its information. KEYS: count:{id}, the event stream.
-- ARGV (named): value, created, updated (ms), description, min, max ('' = none), source, event,
-- sharded (the number of sub-counters of a sharded counter, field `sh`; '' = not sharded).
-- Returns 1, or 0 when the counter exists.
local args = named_args()
local key, stream = KEYS[1], KEYS[2]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'v', args.value, 'c', args.created, 'u', args.updated,
           'd', args.description)
if args.min ~= '' then redis.call('HSET', key, 'mn', args.min) end
if args.max ~= '' then redis.call('HSET', key, 'mx', args.max) end
if args.sharded ~= '' then redis.call('HSET', key, 'sh', args.sharded) end
-- A counter with sub-counters: its events name their part (here its own key, -1).
emit(args.event, 'count_created', count_id(key), args.value, args.value, args.created,
     args.source, false, nil, (args.sharded ~= '' and args.sharded ~= '0') and '-1' or '')
publish(stream)
return 1
