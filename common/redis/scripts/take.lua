-- Removes a sub-counter of a sharded counter being deleted and returns its value (nil when it
-- was not there), in one step, so no increment lands between the read and the removal: the
-- counter's deleted event carries its exact last value. KEYS: the sub-counter's key.
local v = redis.call('HGET', KEYS[1], 'v')
redis.call('DEL', KEYS[1])
return v
