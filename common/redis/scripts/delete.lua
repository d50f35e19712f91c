-- Deletes a counter. KEYS: count:{id}, the event stream. ARGV (named): now (ms), source,
-- event, purge ('1': the history goes too, marked on the event as field p), last (a sharded
-- counter's value with its sub-counters, taken before by take.lua; '' = the key's own).
-- Returns 1, or 0 when there was no such counter.
local args = named_args()
local key, stream = KEYS[1], KEYS[2]
local h = redis.call('HMGET', key, 'v', 'sh')
local v, sh = h[1], h[2]
if not v then return 0 end
if args.last and args.last ~= '' then v = args.last end
redis.call('DEL', key)
-- A counter with sub-counters: its events name their part (here its own key, -1).
emit(args.event, 'count_deleted', count_id(key), neg(v), v, args.now, args.source,
     args.purge == '1', nil, (sh and sh ~= '0') and '-1' or '')
publish(stream)
return 1
