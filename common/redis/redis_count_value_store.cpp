#include "redis/redis_count_value_store.hpp"

#include <charconv>
#include <stdexcept>
#include <utility>

namespace count::redis {
namespace {

using core::StoreUnavailable;

// Exact comparison of canonical signed decimal strings: Lua numbers are doubles, so
// values beyond 2^53 must never pass through them.
constexpr std::string_view kCompareLua = R"lua(
local function cmp(a, b)
  local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
  if na ~= nb then return na and -1 or 1 end
  local r = 0
  if #a ~= #b then r = #a < #b and -1 or 1 elseif a ~= b then r = a < b and -1 or 1 end
  return na and -r or r
end
)lua";

// KEYS[1..n]: count:{id} per operation; KEYS[n+1]: idem:<key> when a key is given.
// ARGV: n, now (ms), auto_create ('1'|'0'), fingerprint, ttl (s), then per operation a
// kind ('i': add a signed delta, 's': set) and its decimal operand.
// Returns {status, {op, ...}}: status applied|replayed|conflict, and each op
// {code, value, updatedAt, delta, created} with code ok|notfound|overflow|min|max.
constexpr std::string_view kApplyLua = R"lua(
local n = tonumber(ARGV[1])
local now, auto, fp, ttl = ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5]
local idem = KEYS[n + 1]

local function apply(key, kind, operand)
  local h = redis.call('HMGET', key, 'v', 'mn', 'mx')
  local old, mn, mx, created = h[1], h[2], h[3], '0'
  if not old then
    if not auto then return {'notfound', '', '', '', '0'} end
    redis.call('HSET', key, 'v', '0', 'c', now, 'u', now, 'd', '')
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
  redis.call('HSET', key, 'v', value, 'u', now)
  return {'ok', value, now, delta, created}
end

if idem then
  local seen = redis.call('HMGET', idem, 'f', 'r')
  if seen[1] then
    if seen[1] ~= fp then return {'conflict', {}} end
    return {'replayed', cjson.decode(seen[2])}
  end
end
local results, any = {}, false
for i = 1, n do
  local r = apply(KEYS[i], ARGV[4 + 2 * i], ARGV[5 + 2 * i])
  any = any or r[1] == 'ok'
  results[i] = r
end
if idem and any then
  redis.call('HSET', idem, 'f', fp, 'r', cjson.encode(results))
  redis.call('EXPIRE', idem, ttl)
end
return {'applied', results}
)lua";

// KEYS[1]: count:{id}. ARGV: value, createdAt, updatedAt, description, min, max ('' = none).
constexpr std::string_view kCreateLua = R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'c', ARGV[2], 'u', ARGV[3], 'd', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'mn', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'mx', ARGV[6]) end
return 1
)lua";

// KEYS[1]: count:{id}. ARGV: description, min, max ('' = none), updatedAt.
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
return 'updated'
)lua";

// The shebang makes Redis refuse a write script on a replica up front (READONLY).
std::string ScriptBody(std::string_view body) {
  return "#!lua\n" + std::string(kCompareLua) + std::string(body);
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
                                           std::function<core::Timestamp()> clock)
    : client_(client),
      clock_(std::move(clock)),
      apply_{ScriptBody(kApplyLua), {}},
      create_{ScriptBody(kCreateLua), {}},
      update_info_{ScriptBody(kUpdateInfoLua), {}} {}

std::int64_t RedisCountValueStore::NowMs() const { return clock_().time_since_epoch().count(); }

Reply RedisCountValueStore::Eval(Script& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args) {
  std::string sha;
  {
    std::lock_guard lock(sha_mu_);
    sha = script.sha;
  }
  if (sha.empty()) {
    Reply loaded = client_.Command({"SCRIPT", "LOAD", script.body});
    ThrowIfError(loaded);
    sha = loaded.str;
    std::lock_guard lock(sha_mu_);
    script.sha = sha;
  }
  auto command = [&](std::string verb, const std::string& script_or_sha) {
    std::vector<std::string> c{std::move(verb), script_or_sha, std::to_string(keys.size())};
    c.insert(c.end(), keys.begin(), keys.end());
    c.insert(c.end(), args.begin(), args.end());
    return c;
  };
  Reply r = client_.Command(command("EVALSHA", sha));
  // NOSCRIPT: the server lost its script cache (restart, failover); EVAL caches it again.
  if (r.IsError() && r.str.starts_with("NOSCRIPT"))
    r = client_.Command(command("EVAL", script.body));
  ThrowIfError(r);
  return r;
}

core::ApplyResult RedisCountValueStore::Apply(std::span<const core::Mutation> mutations,
                                              const core::IdempotencyKey* key, bool auto_create) {
  if (mutations.size() > kMaxBatch)
    throw std::invalid_argument("at most " + std::to_string(kMaxBatch) + " mutations per batch");
  std::vector<std::string> keys;
  std::vector<std::string> args{std::to_string(mutations.size()), std::to_string(NowMs()),
                                auto_create ? "1" : "0", key ? key->fingerprint : "",
                                std::to_string(core::kIdempotencyTtlSeconds)};
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
  }
  if (key) keys.push_back("idem:" + key->key);

  Reply r = Eval(apply_, keys, args);
  if (r.type != Reply::Type::kArray || r.elements.size() != 2)
    throw StoreUnavailable("redis: unexpected reply from the apply script");
  core::ApplyResult result;
  const std::string& status = r.elements[0].str;
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
  Reply r = Eval(create_, {KeyOf(info.id)},
                 {std::to_string(initial_value), std::to_string(created), std::to_string(updated),
                  info.description, Decimal(info.min_value), Decimal(info.max_value)});
  return r.type == Reply::Type::kInteger && r.integer == 1;
}

core::CountValueStore::UpdateResult RedisCountValueStore::UpdateInfo(const core::CountInfo& info) {
  const std::int64_t updated =
      info.updated_at == core::Timestamp{} ? NowMs() : info.updated_at.time_since_epoch().count();
  Reply r = Eval(update_info_, {KeyOf(info.id)},
                 {info.description, Decimal(info.min_value), Decimal(info.max_value),
                  std::to_string(updated)});
  if (r.str == "notfound") return UpdateResult::kNotFound;
  if (r.str == "outside") return UpdateResult::kValueOutsideBounds;
  return UpdateResult::kUpdated;
}

bool RedisCountValueStore::Delete(std::string_view id) {
  Reply r = client_.Command({"DEL", KeyOf(id)});
  ThrowIfError(r);
  return r.integer == 1;
}

bool RedisCountValueStore::Ping() { return client_.Ping(); }

}  // namespace count::redis
