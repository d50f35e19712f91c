#include "redis/redis_count_value_store.hpp"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "redis/group_parts.hpp"

namespace count::redis {
namespace {

using core::StoreUnavailable;

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

// One result of the apply script: code, value, updatedAt, delta from `op`.
core::MutationOutcome ToOutcome(const std::string& id, std::span<const Reply> op) {
  const std::string& code = op[0].str;
  if (code == "notfound") return core::MutationError::kNotFound;
  if (code == "overflow") return core::MutationError::kOverflow;
  if (code == "min") return core::MutationError::kBelowMin;
  if (code == "max") return core::MutationError::kAboveMax;
  if (code == "sharded") return core::MutationError::kSharded;
  core::Applied applied;
  applied.id = KeyLayout::BaseId(id);
  applied.value = ToInt64(op[1].str);
  applied.updated_at = ToTimestamp(op[2].str);
  if (!op[3].str.empty()) applied.delta = ToInt64(op[3].str);
  return applied;
}

}  // namespace

RedisCountValueStore::RedisCountValueStore(RedisClient& client,
                                           std::function<core::Timestamp()> clock,
                                           OutboxOptions outbox, KeyLayout layout)
    : client_(client),
      clock_(std::move(clock)),
      outbox_(std::move(outbox)),
      layout_(std::move(layout)),
      group_backlog_(GroupBacklog(outbox_.max_backlog, layout_.groups())),
      apply_(LuaScript::Embedded("apply.lua")),
      create_(LuaScript::Embedded("create.lua")),
      update_info_(LuaScript::Embedded("update_info.lua")),
      delete_(LuaScript::Embedded("delete.lua")),
      restore_(LuaScript::Embedded("restore.lua")),
      take_(LuaScript::Embedded("take.lua")) {}

std::optional<core::CountRecord> RedisCountValueStore::ToRecord(std::string_view id,
                                                                const Reply& r) {
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
    else if (field == "sh")
      record.sharded = true;
  }
  return record;
}

bool RedisCountValueStore::Route(ApplyRequest& request) {
  // Which sub-counter: with an Idempotency-Key the one the key names, so a retry finds its
  // record (kept in the sub-counter's group). Without, the next one every millisecond, offset
  // per thread: the writes a loop gathers in one group commit stay one script call, and
  // concurrent loops and processes spread over all of them.
  thread_local const std::size_t offset = std::hash<std::thread::id>{}(std::this_thread::get_id());
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now().time_since_epoch());
  const std::size_t turn = request.key ? std::hash<std::string>{}(request.key->key)
                                       : offset + static_cast<std::size_t>(ms.count());
  {
    std::lock_guard lock(sharded_mu_);
    for (std::size_t i = 0; i < request.mutations.size() && !sharded_.empty(); ++i) {
      const auto& m = request.mutations[i];
      const auto it = sharded_.find(m.id);
      if (it == sharded_.end() || it->second == 0 || m.kind == core::MutationKind::kSet) continue;
      if (request.routed.empty())
        request.routed.assign(request.mutations.begin(), request.mutations.end());
      // Every operation of the request on this counter to the same sub-counter: one part.
      request.routed[i].id = KeyLayout::SubCounterId(m.id, turn % it->second);
    }
  }
  if (!request.routed.empty()) request.mutations = request.routed;
  const auto group = GroupOf(request.mutations);
  if (group) request.group = *group;
  return group.has_value();
}

std::vector<std::string> RedisCountValueStore::RoutedCounters(const ApplyRequest& request) {
  std::vector<std::string> ids;
  for (const auto& m : request.routed) {
    const std::string id(KeyLayout::BaseId(m.id));
    if (id.size() != m.id.size() && std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
  }
  return ids;
}

std::vector<std::vector<std::string>> RedisCountValueStore::SumReads(std::string_view id) const {
  std::vector<std::vector<std::string>> commands{{"HGETALL", KeyOf(id)}};
  for (std::size_t i = 0; i < layout_.SubCounters(); ++i)
    commands.push_back({"HMGET", KeyOf(KeyLayout::SubCounterId(id, i)), "v", "u"});
  return commands;
}

std::optional<core::CountRecord> RedisCountValueStore::SumOf(std::string_view id,
                                                             std::span<const Reply> r) {
  auto record = ToRecord(id, r.front());
  if (!record || !record->sharded) return record;
  for (const auto& sub : r.subspan(1)) {
    ThrowIfError(sub);
    // A sub-counter not there (being created or deleted) holds nothing yet.
    if (sub.elements.size() != 2 || sub.elements[0].IsNil()) continue;
    if (__builtin_add_overflow(record->value, ToInt64(sub.elements[0].str), &record->value))
      throw StoreUnavailable("redis: the sub-counters of '" + std::string(id) +
                             "' add up beyond the signed 64-bit range");
    record->updated_at = std::max(record->updated_at, ToTimestamp(sub.elements[1].str));
  }
  return record;
}

void RedisCountValueStore::SetSums(core::ApplyResult& result,
                                   const std::vector<core::CountRecord>& sums) {
  for (auto& outcome : result.outcomes) {
    auto* applied = std::get_if<core::Applied>(&outcome);
    if (!applied) continue;
    for (const auto& sum : sums)
      if (sum.id == applied->id) applied->value = sum.value;
  }
}

std::int64_t RedisCountValueStore::NowMs() const { return clock_().time_since_epoch().count(); }

core::ApplyResult RedisCountValueStore::Apply(std::span<const core::Mutation> mutations,
                                              const core::IdempotencyKey* key) {
  if (mutations.size() > kMaxBatch)
    throw std::invalid_argument("at most " + std::to_string(kMaxBatch) + " mutations per batch");
  // Concurrent calls share one script call (core/group_commit.hpp).
  ApplyRequest me{mutations, key, 0, {}, nullptr};
  for (;;) {
    if (!Route(me)) {
      // Counters (as routed: a sharded counter's sub-counter) of several groups, on a Redis
      // Cluster: one Apply per group, then one answer.
      auto split = SplitByGroup(layout_, me.mutations);
      for (auto& part : split.parts) {
        try {
          part.result = Apply(part.mutations, key);
        } catch (...) {
          part.error = std::current_exception();
        }
      }
      me.result = MergeParts(split);
      break;
    }
    group_.Submit(me, mutations.size(), [this](std::span<ApplyRequest* const> batch) {
      // One script call per group (one group on one server), in the order the groups come.
      std::vector<ApplyRequest*> rest(batch.begin(), batch.end());
      while (!rest.empty()) {
        const std::size_t g = rest.front()->group;
        std::vector<ApplyRequest*> part;
        std::erase_if(rest, [&](ApplyRequest* r) {
          if (r->group != g) return false;
          part.push_back(r);
          return true;
        });
        ApplyGroup(part);
      }
    });
    if (me.error) std::rethrow_exception(me.error);
    if (!me.again) break;
    // Once more, routed as the store now knows.
    me = ApplyRequest{mutations, key, 0, {}, nullptr, {}, false, me.attempt};
  }
  std::vector<core::CountRecord> sums;
  for (const auto& id : RoutedCounters(me)) {
    auto reads = SumReads(id);
    if (auto sum = SumOf(id, client_.Pipeline(std::move(reads)))) sums.push_back(std::move(*sum));
  }
  SetSums(me.result, sums);
  return std::move(me.result);
}

void RedisCountValueStore::ApplyGroup(std::span<ApplyRequest* const> batch) {
  try {
    auto [keys, args] = ApplyKeysAndArgs(batch);
    ReadApplyReply(batch, apply_.Run(client_, keys, args.values()));
  } catch (...) {
    for (auto* request : batch) request->error = std::current_exception();
  }
}

std::optional<std::size_t> RedisCountValueStore::GroupOf(
    std::span<const core::Mutation> mutations) const {
  if (!layout_.clustered() || mutations.empty()) return 0;
  const std::size_t group = layout_.GroupOf(mutations.front().id);
  for (const auto& m : mutations)
    if (layout_.GroupOf(m.id) != group) return std::nullopt;
  return group;
}

std::pair<std::vector<std::string>, ScriptArgs> RedisCountValueStore::ApplyKeysAndArgs(
    std::span<ApplyRequest* const> batch) const {
  const std::size_t group = batch.front()->group;
  std::size_t mutations = 0;
  for (const auto* request : batch) mutations += request->mutations.size();
  // Sized up front: a batch's lists grow to thousands of strings.
  std::vector<std::string> keys;
  keys.reserve(mutations + batch.size() + 2);
  ScriptArgs args;
  args.Reserve(9 + 3 * batch.size() + 4 * mutations)
      .Set("now", std::to_string(NowMs()))
      .Set("ttl", std::to_string(core::kIdempotencyTtlSeconds))
      .Set("source", outbox_.source)
      .Set("max_backlog", std::to_string(group_backlog_))
      .Rest();
  for (const auto* request : batch) {
    args.Add(std::to_string(request->mutations.size()))
        .Add(request->key ? "1" : "0")
        .Add(request->key ? request->key->fingerprint : "");
    for (const auto& m : request->mutations) {
      keys.push_back(KeyOf(m.id));
      switch (m.kind) {
        case core::MutationKind::kIncrement:
          args.Add("add").Add(std::to_string(m.operand));
          break;
        case core::MutationKind::kDecrement:
          args.Add("add").Add(NegatedDecimal(m.operand));
          break;
        case core::MutationKind::kSet:
          args.Add("set").Add(std::to_string(m.operand));
          break;
      }
      args.Add(core::NewEventId()).Add(m.trace.Format());
    }
    if (request->key) keys.push_back(layout_.Idempotency(group, request->key->key));
  }
  keys.push_back(layout_.Stream(group));
  keys.push_back(layout_.Stream(group) + ":epoch");
  return {std::move(keys), std::move(args)};
}

std::vector<std::string> RedisCountValueStore::ApplyCommand(std::span<ApplyRequest* const> batch,
                                                            bool whole) const {
  auto [keys, args] = ApplyKeysAndArgs(batch);
  return apply_.Command(std::move(keys), std::move(args).values(), whole);
}

void RedisCountValueStore::ReadApplyReply(std::span<ApplyRequest* const> batch,
                                          const Reply& r) const {
  try {
    ThrowIfError(r);
    if (r.type != Reply::Type::kArray)
      throw StoreUnavailable("redis: unexpected reply from the apply script");
    // apply.lua's flat answer: per request status, position, n, then n results of 4.
    std::span<const Reply> rest(r.elements);
    for (auto* request : batch) {
      if (rest.size() < 3 || rest[2].type != Reply::Type::kInteger || rest[2].integer < 0 ||
          rest.size() - 3 < 4 * static_cast<std::size_t>(rest[2].integer))
        throw StoreUnavailable("redis: unexpected reply from the apply script");
      const std::size_t n = 3 + 4 * static_cast<std::size_t>(rest[2].integer);
      try {
        request->result = ToResult(*request, rest.first(n));
      } catch (...) {
        request->error = std::current_exception();
      }
      rest = rest.subspan(n);
    }
    if (!rest.empty()) throw StoreUnavailable("redis: unexpected reply from the apply script");
  } catch (...) {
    for (auto* request : batch) request->error = std::current_exception();
  }
}

core::ApplyResult RedisCountValueStore::ToResult(ApplyRequest& request,
                                                 std::span<const Reply> r) const {
  core::ApplyResult result;
  result.position = r[1].str;
  // On a Redis Cluster the position names its tag group (redis_replica_acks.hpp).
  if (layout_.clustered() && !result.position.empty())
    result.position = std::to_string(request.group) + "@" + result.position;
  const std::string& status = r[0].str;
  if (status == "backlog")
    throw StoreUnavailable((layout_.clustered() ? "the event outbox of the counters' group holds "
                                                : "the event outbox holds ") +
                           std::to_string(group_backlog_) +
                           " unpublished events; writes resume once the bus takes them");
  ++request.attempt;
  if (status == "sharded") {
    if (request.attempt >= kMaxAttempts)
      throw StoreUnavailable("a counter of the request changed while it was routed; retry it");
    std::lock_guard lock(sharded_mu_);
    const auto ops = r.subspan(3);
    for (std::size_t i = 0; i < request.mutations.size() && 4 * i < ops.size(); ++i)
      if (ops[4 * i].str == "sharded")
        sharded_[request.mutations[i].id] = static_cast<std::size_t>(ToInt64(ops[4 * i + 1].str));
    request.again = true;
    return result;
  }
  if (status == "conflict") {
    result.status = core::ApplyResult::Status::kKeyConflict;
    return result;
  }
  result.status = status == "replayed" ? core::ApplyResult::Status::kReplayed
                                       : core::ApplyResult::Status::kApplied;
  const auto ops = r.subspan(3);
  if (ops.size() != 4 * request.mutations.size())
    throw StoreUnavailable("redis: idempotency record does not match the request");
  bool applied = false;
  std::vector<std::string_view> gone;  // sharded counters whose sub-counter was not there
  for (std::size_t i = 0; i < request.mutations.size(); ++i) {
    const std::string& id = request.mutations[i].id;
    result.outcomes.push_back(ToOutcome(id, ops.subspan(4 * i, 4)));
    applied = applied || std::holds_alternative<core::Applied>(result.outcomes.back());
    if (ops[4 * i].str == "notfound" && KeyLayout::BaseId(id).size() != id.size())
      gone.push_back(KeyLayout::BaseId(id));
  }
  // The counter was deleted (and perhaps created again, not sharded): when the request changed
  // nothing, it goes once more to the counter's own key, which says what the counter is now.
  if (!applied && !gone.empty() && request.attempt < kMaxAttempts) {
    std::lock_guard lock(sharded_mu_);
    for (const auto id : gone) sharded_.erase(std::string(id));
    request.again = true;
    return {};
  }
  return result;
}

std::optional<core::CountRecord> RedisCountValueStore::Get(std::string_view id) {
  auto record = ToRecord(id, client_.Command({"HGETALL", KeyOf(id)}));
  if (!record || !record->sharded || layout_.SubCounters() == 0) return record;
  return SumOf(id, client_.Pipeline(SumReads(id)));
}

std::vector<std::optional<core::CountRecord>> RedisCountValueStore::GetMany(
    std::span<const std::string> ids) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size());
  for (const auto& id : ids) commands.push_back({"HGETALL", KeyOf(id)});
  auto replies = client_.Pipeline(std::move(commands));
  std::vector<std::optional<core::CountRecord>> records;
  records.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    records.push_back(ToRecord(ids[i], replies[i]));
    if (records.back() && records.back()->sharded && layout_.SubCounters() > 0)
      records.back() = SumOf(ids[i], client_.Pipeline(SumReads(ids[i])));
  }
  return records;
}

// The arguments create.lua and restore.lua share: a counter's value and information.
ScriptArgs RedisCountValueStore::CounterArgs(const core::CountInfo& info,
                                             std::int64_t value) const {
  const std::int64_t now = NowMs();
  const std::int64_t created =
      info.created_at == core::Timestamp{} ? now : info.created_at.time_since_epoch().count();
  const std::int64_t updated =
      info.updated_at == core::Timestamp{} ? created : info.updated_at.time_since_epoch().count();
  ScriptArgs args;
  args.Set("value", std::to_string(value))
      .Set("created", std::to_string(created))
      .Set("updated", std::to_string(updated))
      .Set("description", info.description)
      .Set("min", Decimal(info.min_value))
      .Set("max", Decimal(info.max_value))
      .Set("sharded", info.sharded ? std::to_string(layout_.SubCounters()) : "");
  return args;
}

void RedisCountValueStore::CreateSubCounters(const core::CountInfo& info) {
  // They start at 0 (the initial value is the counter's own), replacing any left by a
  // deletion that stopped half-way. Until they are written an increment finds its
  // sub-counter missing (not-found) and a read counts it as 0.
  const std::string now = std::to_string(NowMs());
  std::vector<std::vector<std::string>> commands;
  for (std::size_t i = 0; info.sharded && i < layout_.SubCounters(); ++i)
    commands.push_back(
        {"HSET", KeyOf(KeyLayout::SubCounterId(info.id, i)), "v", "0", "u", now, "c", now});
  if (!commands.empty())
    for (const auto& reply : client_.Pipeline(std::move(commands))) ThrowIfError(reply);
}

bool RedisCountValueStore::Create(const core::CountInfo& info, std::int64_t initial_value) {
  Reply r = create_.Run(client_, {KeyOf(info.id), layout_.Stream(layout_.GroupOf(info.id))},
                        CounterArgs(info, initial_value)
                            .Set("source", outbox_.source)
                            .Set("event", core::NewEventId())
                            .values());
  if (r.type != Reply::Type::kInteger || r.integer != 1) return false;
  CreateSubCounters(info);
  return true;
}

bool RedisCountValueStore::Restore(const core::CountInfo& info, std::int64_t value) {
  Reply r = restore_.Run(client_, {KeyOf(info.id)}, CounterArgs(info, value).values());
  if (r.type != Reply::Type::kInteger || r.integer != 1) return false;
  CreateSubCounters(info);  // the rebuilt value is the counter's own
  return true;
}

bool RedisCountValueStore::HoldsCounters() {
  // SCAN has no key, so on a cluster the router sends it to one primary. It sends a command
  // without a key right behind one with a key to that key's node, so each primary is scanned
  // behind an EXISTS of a group it serves: one group per primary, told apart by CLUSTER MYID
  // asked the same way.
  std::vector<std::optional<std::string>> behind;  // what leads each SCAN; none on one server
  if (!layout_.clustered()) {
    behind.emplace_back();
  } else {
    std::vector<std::vector<std::string>> commands;
    for (std::size_t g = 0; g < layout_.groups(); ++g) {
      commands.push_back({"EXISTS", layout_.Stream(g)});
      commands.push_back({"CLUSTER", "MYID"});
    }
    const auto replies = client_.Pipeline(std::move(commands));
    std::set<std::string> nodes;
    for (std::size_t g = 0; g < layout_.groups(); ++g) {
      const Reply& id = replies.at(2 * g + 1);
      if (id.IsError() || id.str.empty())
        throw core::StoreUnavailable("redis: which node serves group " + std::to_string(g) +
                                     " is not known: " + id.str);
      if (nodes.insert(id.str).second) behind.emplace_back(layout_.Stream(g));
    }
  }
  for (const auto& lead : behind) {
    std::string cursor = "0";
    do {
      std::vector<std::string> scan{"SCAN",  cursor, "MATCH", layout_.CounterPattern(),
                                    "COUNT", "1000"};
      const Reply r = lead ? client_.Pipeline({{"EXISTS", *lead}, std::move(scan)}).at(1)
                           : client_.Command(std::move(scan));
      if (r.type != Reply::Type::kArray || r.elements.size() != 2)
        throw core::StoreUnavailable("redis: unexpected SCAN reply: " + r.str);
      if (!r.elements[1].elements.empty()) return true;
      cursor = r.elements[0].str;
    } while (cursor != "0");
  }
  return false;
}

core::CountValueStore::UpdateResult RedisCountValueStore::UpdateInfo(const core::CountInfo& info) {
  const std::int64_t updated =
      info.updated_at == core::Timestamp{} ? NowMs() : info.updated_at.time_since_epoch().count();
  Reply r = update_info_.Run(client_, {KeyOf(info.id), layout_.Stream(layout_.GroupOf(info.id))},
                             ScriptArgs()
                                 .Set("description", info.description)
                                 .Set("min", Decimal(info.min_value))
                                 .Set("max", Decimal(info.max_value))
                                 .Set("updated", std::to_string(updated))
                                 .Set("source", outbox_.source)
                                 .Set("event", core::NewEventId())
                                 .values());
  if (r.str == "notfound") return UpdateResult::kNotFound;
  if (r.str == "outside") return UpdateResult::kValueOutsideBounds;
  return UpdateResult::kUpdated;
}

bool RedisCountValueStore::Delete(std::string_view id, bool purge_history) {
  // A sharded counter's sub-counters go first, each taken with its value in one step, so its
  // deleted event carries its exact last value: its own (never changed after creation) and
  // theirs. A write to a sub-counter already taken finds it missing (not-found).
  std::string last;
  if (layout_.SubCounters() > 0) {
    const Reply own = client_.Command({"HMGET", KeyOf(id), "v", "sh"});
    ThrowIfError(own);
    if (own.elements.size() == 2 && !own.elements[1].IsNil() && own.elements[1].str != "0") {
      std::int64_t total = own.elements[0].IsNil() ? 0 : ToInt64(own.elements[0].str);
      for (std::size_t i = 0; i < layout_.SubCounters(); ++i) {
        const Reply v = take_.Run(client_, {KeyOf(KeyLayout::SubCounterId(id, i))}, {});
        ThrowIfError(v);
        if (!v.IsNil() && __builtin_add_overflow(total, ToInt64(v.str), &total))
          throw StoreUnavailable("redis: the sub-counters of '" + std::string(id) +
                                 "' add up beyond the signed 64-bit range");
      }
      last = std::to_string(total);
    }
  }
  Reply r = delete_.Run(client_, {KeyOf(id), layout_.Stream(layout_.GroupOf(id))},
                        ScriptArgs()
                            .Set("now", std::to_string(NowMs()))
                            .Set("source", outbox_.source)
                            .Set("event", core::NewEventId())
                            .Set("purge", purge_history ? "1" : "0")
                            .Set("last", last)
                            .values());
  return r.type == Reply::Type::kInteger && r.integer == 1;
}

bool RedisCountValueStore::Ping() {
  if (!layout_.clustered()) return client_.Ping();
  // Every group's shard answers: one EXISTS per group (reads: a replica's, with replica reads),
  // pipelined, so one round trip per shard. A PING would reach one node only.
  std::vector<std::vector<std::string>> commands;
  for (std::size_t g = 0; g < layout_.groups(); ++g)
    commands.push_back({"EXISTS", layout_.Stream(g)});
  try {
    return std::ranges::none_of(client_.Pipeline(std::move(commands)),
                                [](const Reply& r) { return r.IsError(); });
  } catch (const StoreUnavailable&) {
    return false;
  }
}

std::optional<std::string> StoredLayoutDiffers(RedisClient& client, const KeyLayout& layout) {
  if (!layout.clustered()) return std::nullopt;
  const std::string mine = layout.Description();
  // Stores it unless one is there, and answers what was there (nil: none).
  const Reply r = client.Command({"SET", std::string(KeyLayout::kLayoutKey), mine, "NX", "GET"});
  if (r.IsError()) throw core::StoreUnavailable("redis: " + r.str);
  if (r.IsNil() || r.str == mine) return std::nullopt;
  return r.str;
}

}  // namespace count::redis
