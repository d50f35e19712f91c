-- Replaces a counter's description and bounds, refused when its value lies outside the new
-- bounds. KEYS: count:{id}, the event stream.
-- ARGV (named): description, min, max ('' = none), updated (ms), source, event.
-- Returns updated | notfound | outside.
local args = named_args()
local key, stream = KEYS[1], KEYS[2]
local v = redis.call('HGET', key, 'v')
if not v then return 'notfound' end
if (args.min ~= '' and cmp(v, args.min) < 0) or (args.max ~= '' and cmp(v, args.max) > 0) then
  return 'outside'
end
redis.call('HSET', key, 'd', args.description, 'u', args.updated)
for field, bound in pairs({mn = args.min, mx = args.max}) do
  if bound ~= '' then
    redis.call('HSET', key, field, bound)
  else
    redis.call('HDEL', key, field)
  end
end
-- A counter with sub-counters: its events name their part (here its own key, -1).
local sh = redis.call('HGET', key, 'sh')
emit(args.event, 'count_updated', count_id(key), '0', v, args.updated, args.source, false, nil,
     (sh and sh ~= '0') and '-1' or '')
publish(stream)
return 'updated'
