-- Takes or renews the outbox relay's lease. KEYS: the lease key.
-- ARGV (named): owner, lease (ms). Returns 1 when `owner` leads.
local args = named_args()
local holder = redis.call('GET', KEYS[1])
if holder == args.owner then
  redis.call('PEXPIRE', KEYS[1], args.lease)
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], args.owner, 'PX', args.lease)
return 1
