#include "redis/redis_count_value_store.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <thread>
#include <utility>

namespace count::redis {
namespace {

using core::StoreUnavailable;

// Helpers every script shares. Values are canonical signed decimal strings and never
// pass through Lua numbers (doubles), so values beyond 2^53 stay exact.
constexpr std::string_view kPreludeLua = R"lua(
local function cmp(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then return na and -1 or 1 end
  local r = 0
  if #a ~= #b then r = #a < #b and -1 or 1 elseif a ~= b then r = a < b and -1 or 1 end
  return na and -r or r
end
-- -a, or '' when it leaves int64 (only for the minimum)
local function neg(a)
  if a == '0' then return '0' end
  if a == '-9223372036854775808' then return '' end
  if a:sub(1, 1) == '-' then return a:sub(2) end
  return '-' .. a
end
-- Appends an event to the outbox stream.
local function emit(stream, id, kind, count, delta, value, now, source)
  redis.call('XADD', stream, '*', 'i', id, 'y', kind, 'c', count, 'd', delta, 'v', value,
             't', now, 's', source)
end
local function count_id(key) return key:sub(8, -2) end
)lua";

// KEYS[1..n]: count:{id} per operation; KEYS[n+1]: the event stream; KEYS[n+2]:
// idem:<key> when a key is given.
// ARGV: n, now (ms), auto_create ('1'|'0'), fingerprint, ttl (s), source, max backlog,
// then per operation a kind ('i': add a signed delta, 's': set), its decimal operand, and
// two event ids (the change, and the creation when auto_create creates the counter).
// Returns {status, {op, ...}}: status applied|replayed|conflict|backlog, and each op
// {code, value, updatedAt, delta, created} with code ok|notfound|overflow|min|max.
constexpr std::string_view kApplyLua = R"lua(
local n = tonumber(ARGV[1])
local now, auto, fp, ttl, source = ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5], ARGV[6]
local stream, idem = KEYS[n + 1], KEYS[n + 2]

-- new - old exactly, through HINCRBY on a scratch field; '' when it leaves int64.
local function diff(key, new, old)
  local d = ''
  local minus = neg(old)
  if minus ~= '' then
    redis.call('HSET', key, 'x', new)
    local r = redis.pcall('HINCRBY', key, 'x', minus)
    if not (type(r) == 'table' and r.err) then d = redis.call('HGET', key, 'x') end
    redis.call('HDEL', key, 'x')
  end
  return d
end

local function apply(key, kind, operand, event_id, created_id)
  local h = redis.call('HMGET', key, 'v', 'mn', 'mx')
  local old, mn, mx, created = h[1], h[2], h[3], '0'
  if not old then
    if not auto then return {'notfound', '', '', '', '0'} end
    redis.call('HSET', key, 'v', '0', 'c', now, 'u', now, 'd', '')
    emit(stream, created_id, 'count_created', count_id(key), '0', '0', now, source)
    old, created = '0', '1'
  end
  local value, delta = operand, ''
  if kind == 'i' then
    -- HINCRBY does exact int64 arithmetic and refuses to overflow.
    local r = redis.pcall('HINCRBY', key, 'v', operand)
    if type(r) == 'table' and r.err then
      if string.find(r.err, 'overflow', 1, true) then
        return {'overflow', '', '', '', created}
      end
      error(r.err)
    end
    value, delta = redis.call('HGET', key, 'v'), operand
  end
  local refused = (mn and cmp(value, mn) < 0 and 'min') or (mx and cmp(value, mx) > 0 and 'max')
  if refused then
    if kind == 'i' then redis.call('HSET', key, 'v', old) end
    return {refused, '', '', '', created}
  end
  if kind == 's' then delta = diff(key, value, old) end
  redis.call('HSET', key, 'v', value, 'u', now)
  emit(stream, event_id, 'count_updated', count_id(key), delta, value, now, source)
  return {'ok', value, now, delta, created}
end

if idem then
  local seen = redis.call('HMGET', idem, 'f', 'r')
  if seen[1] then
    if seen[1] ~= fp then return {'conflict', {}} end
    return {'replayed', cjson.decode(seen[2])}
  end
end
if redis.call('XLEN', stream) >= tonumber(ARGV[7]) then return {'backlog', {}} end
local results, any = {}, false
for i = 1, n do
  local a = 4 + 4 * i
  local r = apply(KEYS[i], ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3])
  any = any or r[1] == 'ok'
  results[i] = r
end
if idem and any then
  redis.call('HSET', idem, 'f', fp, 'r', cjson.encode(results))
  redis.call('EXPIRE', idem, ttl)
end
return {'applied', results}
)lua";

// KEYS[1]: count:{id}, KEYS[2]: the event stream. ARGV: value, createdAt, updatedAt,
// description, min, max ('' = none), source, event id.
constexpr std::string_view kCreateLua = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', ARGV[2], 'u', ARGV[3], 'd', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'mn', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'mx', ARGV[6]) end
emit(KEYS[2], ARGV[8], 'count_created', count_id(KEYS[1]), ARGV[1], ARGV[1], ARGV[2], ARGV[7])
return 1
)lua";

// KEYS[1]: count:{id}, KEYS[2]: the event stream. ARGV: description, min, max ('' = none),
// updatedAt, source, event id.
constexpr std::string_view kUpdateInfoLua = R"lua(
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 'notfound' end
if (ARGV[2] ~= '' and cmp(v, ARGV[2]) < 0) or (ARGV[3] ~= '' and cmp(v, ARGV[3]) > 0) then
  return 'outside'
end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'u', ARGV[4])
for i, field in ipairs({'mn', 'mx'}) do
  local bound = ARGV[1 + i]
  if bound ~= '' then
    redis.call('HSET', KEYS[1], field, bound)
  else
    redis.call('HDEL', KEYS[1], field)
  end
end
emit(KEYS[2], ARGV[6], 'count_updated', count_id(KEYS[1]), '0', v, ARGV[4], ARGV[5])
return 'updated'
)lua";

// KEYS[1]: count:{id}, KEYS[2]: the event stream. ARGV: now, source, event id.
constexpr std::string_view kDeleteLua = R"lua(
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return 0 end
redis.call('DEL', KEYS[1])
emit(KEYS[2], ARGV[3], 'count_deleted', count_id(KEYS[1]), neg(v), v, ARGV[1], ARGV[2])
return 1
)lua";

// The shebang makes Redis refuse a write script on a replica up front (READONLY).
std::string ScriptBody(std::string_view body) {
  return "#!lua\n" + std::string(kPreludeLua) + std::string(body);
}

std::int64_t ToInt64(const std::string& text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    throw StoreUnavailable("redis: stored number is not an int64: '" + text + "'");
  return value;
}

core::Timestamp ToTimestamp(const std::string& ms) {
  return core::Timestamp(std::chrono::milliseconds(ToInt64(ms)));
}

std::string Decimal(const std::optional<std::int64_t>& v) {
  return v ? std::to_string(*v) : std::string();
}

std::string NegatedDecimal(std::int64_t v) {
  if (v == 0) return "0";
  std::string s = std::to_string(v);
  return s.front() == '-' ? s.substr(1) : "-" + s;
}

void ThrowIfError(const Reply& r) {
  if (r.IsError()) throw StoreUnavailable("redis: " + r.str);
}

std::optional<core::CountRecord> ToRecord(std::string_view id, const Reply& r) {
  ThrowIfError(r);
  if (r.type != Reply::Type::kArray || r.elements.empty()) return std::nullopt;
  core::CountRecord record;
  record.id = id;
  for (std::size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    const std::string& field = r.elements[i].str;
    const std::string& value = r.elements[i + 1].str;
    if (field == "v")
      record.value = ToInt64(value);
    else if (field == "u")
      record.updated_at = ToTimestamp(value);
    else if (field == "c")
      record.created_at = ToTimestamp(value);
    else if (field == "d")
      record.description = value;
    else if (field == "mn")
      record.min_value = ToInt64(value);
    else if (field == "mx")
      record.max_value = ToInt64(value);
  }
  return record;
}

core::MutationOutcome ToOutcome(const std::string& id, const Reply& op) {
  if (op.type != Reply::Type::kArray || op.elements.size() != 5)
    throw StoreUnavailable("redis: unexpected reply from the apply script");
  const std::string& code = op.elements[0].str;
  if (code == "notfound") return core::MutationError::kNotFound;
  if (code == "overflow") return core::MutationError::kOverflow;
  if (code == "min") return core::MutationError::kBelowMin;
  if (code == "max") return core::MutationError::kAboveMax;
  core::Applied applied;
  applied.id = id;
  applied.value = ToInt64(op.elements[1].str);
  applied.updated_at = ToTimestamp(op.elements[2].str);
  if (!op.elements[3].str.empty()) applied.delta = ToInt64(op.elements[3].str);
  return applied;
}

}  // namespace

RedisCountValueStore::RedisCountValueStore(RedisClient& client,
                                           std::function<core::Timestamp()> clock,
                                           OutboxOptions outbox)
    : client_(client),
      clock_(std::move(clock)),
      outbox_(std::move(outbox)),
      apply_(ScriptBody(kApplyLua)),
      create_(ScriptBody(kCreateLua)),
      update_info_(ScriptBody(kUpdateInfoLua)),
      delete_(ScriptBody(kDeleteLua)) {}

std::int64_t RedisCountValueStore::NowMs() const { return clock_().time_since_epoch().count(); }

core::ApplyResult RedisCountValueStore::Apply(std::span<const core::Mutation> mutations,
                                              const core::IdempotencyKey* key, bool auto_create) {
  if (mutations.size() > kMaxBatch)
    throw std::invalid_argument("at most " + std::to_string(kMaxBatch) + " mutations per batch");
  std::vector<std::string> keys;
  std::vector<std::string> args{std::to_string(mutations.size()),
                                std::to_string(NowMs()),
                                auto_create ? "1" : "0",
                                key ? key->fingerprint : "",
                                std::to_string(core::kIdempotencyTtlSeconds),
                                outbox_.source,
                                std::to_string(outbox_.max_backlog)};
  for (const auto& m : mutations) {
    keys.push_back(KeyOf(m.id));
    switch (m.kind) {
      case core::MutationKind::kIncrement:
        args.insert(args.end(), {"i", std::to_string(m.operand)});
        break;
      case core::MutationKind::kDecrement:
        args.insert(args.end(), {"i", NegatedDecimal(m.operand)});
        break;
      case core::MutationKind::kSet:
        args.insert(args.end(), {"s", std::to_string(m.operand)});
        break;
    }
    args.insert(args.end(), {core::NewEventId(), auto_create ? core::NewEventId() : ""});
  }
  keys.emplace_back(kEventStream);
  if (key) keys.push_back("idem:" + key->key);

  Reply r = apply_.Run(client_, keys, args);
  if (r.type != Reply::Type::kArray || r.elements.size() != 2)
    throw StoreUnavailable("redis: unexpected reply from the apply script");
  core::ApplyResult result;
  const std::string& status = r.elements[0].str;
  if (status == "backlog")
    throw StoreUnavailable("the event outbox holds " + std::to_string(outbox_.max_backlog) +
                           " unpublished events; writes resume once the bus takes them");
  if (status == "conflict") {
    result.status = core::ApplyResult::Status::kKeyConflict;
    return result;
  }
  result.status = status == "replayed" ? core::ApplyResult::Status::kReplayed
                                       : core::ApplyResult::Status::kApplied;
  const auto& ops = r.elements[1].elements;
  if (ops.size() != mutations.size())
    throw StoreUnavailable("redis: idempotency record does not match the request");
  for (std::size_t i = 0; i < ops.size(); ++i) {
    result.outcomes.push_back(ToOutcome(mutations[i].id, ops[i]));
    result.created.push_back(ops[i].elements[4].str == "1");
  }
  return result;
}

std::optional<core::CountRecord> RedisCountValueStore::Get(std::string_view id) {
  return ToRecord(id, client_.Command({"HGETALL", KeyOf(id)}));
}

std::vector<std::optional<core::CountRecord>> RedisCountValueStore::GetMany(
    std::span<const std::string> ids) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size());
  for (const auto& id : ids) commands.push_back({"HGETALL", KeyOf(id)});
  auto replies = client_.Pipeline(std::move(commands));
  std::vector<std::optional<core::CountRecord>> records;
  records.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) records.push_back(ToRecord(ids[i], replies[i]));
  return records;
}

bool RedisCountValueStore::Create(const core::CountInfo& info, std::int64_t initial_value) {
  const std::int64_t now = NowMs();
  const std::int64_t created =
      info.created_at == core::Timestamp{} ? now : info.created_at.time_since_epoch().count();
  const std::int64_t updated =
      info.updated_at == core::Timestamp{} ? created : info.updated_at.time_since_epoch().count();
  Reply r = create_.Run(client_, {KeyOf(info.id), std::string(kEventStream)},
                        {std::to_string(initial_value), std::to_string(created),
                         std::to_string(updated), info.description, Decimal(info.min_value),
                         Decimal(info.max_value), outbox_.source, core::NewEventId()});
  return r.type == Reply::Type::kInteger && r.integer == 1;
}

core::CountValueStore::UpdateResult RedisCountValueStore::UpdateInfo(const core::CountInfo& info) {
  const std::int64_t updated =
      info.updated_at == core::Timestamp{} ? NowMs() : info.updated_at.time_since_epoch().count();
  Reply r = update_info_.Run(client_, {KeyOf(info.id), std::string(kEventStream)},
                             {info.description, Decimal(info.min_value), Decimal(info.max_value),
                              std::to_string(updated), outbox_.source, core::NewEventId()});
  if (r.str == "notfound") return UpdateResult::kNotFound;
  if (r.str == "outside") return UpdateResult::kValueOutsideBounds;
  return UpdateResult::kUpdated;
}

bool RedisCountValueStore::Delete(std::string_view id) {
  Reply r = delete_.Run(client_, {KeyOf(id), std::string(kEventStream)},
                        {std::to_string(NowMs()), outbox_.source, core::NewEventId()});
  return r.type == Reply::Type::kInteger && r.integer == 1;
}

bool RedisCountValueStore::Ping() { return client_.Ping(); }

}  // namespace count::redis
