#include "redis/redis_loop_count_value_store.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <stdexcept>

#include "core/group_commit.hpp"
#include "redis/group_parts.hpp"

namespace count::redis {

struct RedisLoopCountValueStore::Pending : RedisCountValueStore::ApplyRequest {
  std::span<const core::Mutation> original;  // as the caller gave them, before routing
  Done<core::ApplyResult> done;
};

// One group commit per tag group (one on one server): each group's script call is in flight
// on its own, to the shard that holds it.
struct RedisLoopCountValueStore::Lane {
  RedisConnection& connection;
  std::deque<core::LoopGroupCommit<Pending>> groups;
};

namespace {
std::atomic<std::uint64_t> next_store_id{0};

// The sums ReadSums found (a counter deleted meanwhile has none).
std::vector<core::CountRecord> Found(std::vector<std::optional<core::CountRecord>> sums) {
  std::vector<core::CountRecord> found;
  for (auto& sum : sums)
    if (sum) found.push_back(std::move(*sum));
  return found;
}
}  // namespace

RedisLoopCountValueStore::RedisLoopCountValueStore(RedisCountValueStore& store,
                                                   RedisLoopClient& redis)
    : store_(store), redis_(redis), id_(next_store_id.fetch_add(1)) {}

RedisLoopCountValueStore::~RedisLoopCountValueStore() = default;

RedisLoopCountValueStore::Lane& RedisLoopCountValueStore::Here() {
  thread_local std::vector<std::pair<std::uint64_t, Lane*>> cache;
  for (const auto& [owner, lane] : cache)
    if (owner == id_) return *lane;
  RedisConnection& connection = redis_.Here();
  std::lock_guard lock(mu_);
  auto lane = std::make_unique<Lane>(Lane{connection, {}});
  for (std::size_t g = 0; g < store_.layout().groups(); ++g)
    lane->groups.emplace_back(
        RedisCountValueStore::kMaxBatch,
        [this](auto batch, auto finished) {
          Send(Here(), std::move(batch), std::move(finished), false);
        },
        [&connection](auto f) { connection.Defer(std::move(f)); });
  lanes_.push_back(std::move(lane));
  cache.emplace_back(id_, lanes_.back().get());
  return *lanes_.back();
}

void RedisLoopCountValueStore::Apply(std::span<const core::Mutation> mutations,
                                     const core::IdempotencyKey* key,
                                     Done<core::ApplyResult> done) {
  if (mutations.size() > RedisCountValueStore::kMaxBatch)
    return done(
        std::make_exception_ptr(std::invalid_argument(
            "at most " + std::to_string(RedisCountValueStore::kMaxBatch) + " mutations per batch")),
        {});
  auto pending = std::make_unique<Pending>();
  pending->mutations = pending->original = mutations;
  pending->key = key;
  pending->done = std::move(done);
  Submit(std::move(pending));
}

void RedisLoopCountValueStore::Submit(std::unique_ptr<Pending> pending) {
  if (!store_.Route(*pending)) {
    // Counters (as routed: a sharded counter's sub-counter) of several groups: split, and the
    // merged answer carries the sharded counters' sums.
    auto ids = RedisCountValueStore::RoutedCounters(*pending);
    const auto* key = pending->key;
    if (ids.empty()) return ApplySplit(pending->mutations, key, std::move(pending->done));
    return ApplySplit(pending->mutations, key,
                      [this, ids = std::move(ids), done = std::move(pending->done)](
                          std::exception_ptr error, core::ApplyResult result) mutable {
                        if (error) return done(error, {});
                        ReadSums(ids, [result = std::move(result), done = std::move(done)](
                                          std::exception_ptr error, auto sums) mutable {
                          RedisCountValueStore::SetSums(result, Found(std::move(sums)));
                          done(error, error ? core::ApplyResult{} : std::move(result));
                        });
                      });
  }
  auto& p = *pending.release();
  Here().groups[p.group].Submit(p, p.mutations.size());
}

void RedisLoopCountValueStore::Finish(std::vector<Pending*> batch) {
  std::vector<std::shared_ptr<Pending>> answered;
  std::vector<std::string> ids;  // sharded counters the batch changed, once each
  for (auto* raw : batch) {
    std::shared_ptr<Pending> p(raw);
    if (!p->error && p->again) {
      // Sent once more, routed as the store now knows.
      p->again = false;
      p->result = {};
      p->routed.clear();
      p->mutations = p->original;
      Submit(std::make_unique<Pending>(std::move(*p)));
      continue;
    }
    if (!p->error)
      for (auto& id : RedisCountValueStore::RoutedCounters(*p))
        if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
    answered.push_back(std::move(p));
  }
  const auto answer = [](std::vector<std::shared_ptr<Pending>>& requests) {
    for (auto& p : requests) p->done(p->error, std::move(p->result));
  };
  if (ids.empty()) return answer(answered);
  // One read of their sums for the whole batch, after all of it applied.
  ReadSums(std::move(ids),
           [answered = std::move(answered), answer](std::exception_ptr error, auto sums) mutable {
             const auto found = Found(std::move(sums));
             for (auto& p : answered) {
               if (!p->error && !p->routed.empty()) {
                 if (error) p->error = error;
                 RedisCountValueStore::SetSums(p->result, found);
               }
             }
             answer(answered);
           });
}

void RedisLoopCountValueStore::ReadSums(std::vector<std::string> ids,
                                        Done<std::vector<std::optional<core::CountRecord>>> done) {
  std::vector<std::vector<std::string>> commands;
  for (const auto& id : ids)
    for (auto& command : store_.SumReads(id)) commands.push_back(std::move(command));
  const std::size_t each = commands.size() / ids.size();
  Here().connection.Send(std::move(commands), [ids = std::move(ids), each, done = std::move(done)](
                                                  std::exception_ptr error, Replies replies) {
    std::vector<std::optional<core::CountRecord>> records;
    if (!error) {
      try {
        for (std::size_t i = 0; i < ids.size(); ++i)
          records.push_back(RedisCountValueStore::SumOf(
              ids[i], std::span<const Reply>(replies).subspan(i * each, each)));
      } catch (...) {
        error = std::current_exception();
        records.clear();
      }
    }
    done(error, std::move(records));
  });
}

// Counters of several groups (a Redis Cluster): each group's part goes out at once, to its own
// group commit, and the last part answered merges them (group_parts.hpp). The parts are answered
// on this loop, so the count needs no lock.
void RedisLoopCountValueStore::ApplySplit(std::span<const core::Mutation> mutations,
                                          const core::IdempotencyKey* key,
                                          Done<core::ApplyResult> done) {
  auto split = std::make_shared<GroupParts>(SplitByGroup(store_.layout(), mutations));
  for (std::size_t i = 0; i < split->parts.size(); ++i)
    Apply(split->parts[i].mutations, key,
          [split, i, done](std::exception_ptr error, core::ApplyResult result) {
            auto& part = split->parts[i];
            part.error = error;
            part.result = std::move(result);
            if (++split->answered < split->parts.size()) return;
            core::ApplyResult merged;
            try {
              merged = MergeParts(*split);
            } catch (...) {
              return done(std::current_exception(), {});
            }
            done(nullptr, std::move(merged));
          });
}

void RedisLoopCountValueStore::Send(Lane& lane, std::vector<Pending*> batch,
                                    std::function<void()> finished, bool whole) {
  std::vector<RedisCountValueStore::ApplyRequest*> requests(batch.begin(), batch.end());
  std::vector<std::vector<std::string>> command;
  command.push_back(store_.ApplyCommand(requests, whole));
  lane.connection.Send(std::move(command), [this, &lane, batch = std::move(batch), requests,
                                            finished = std::move(finished), whole](
                                               std::exception_ptr error, Replies replies) mutable {
    if (!error && !whole && LuaScript::NoScript(replies.front()))
      return Send(lane, std::move(batch), std::move(finished), true);
    if (error)
      for (auto* r : requests) r->error = error;
    else
      store_.ReadApplyReply(requests, replies.front());
    finished();  // the next batch goes out before these are answered
    Finish(std::move(batch));
  });
}

void RedisLoopCountValueStore::Get(std::string_view id,
                                   Done<std::optional<core::CountRecord>> done) {
  GetMany(std::vector<std::string>{std::string(id)},
          [done = std::move(done)](std::exception_ptr error, auto records) {
            done(error, records.empty() ? std::nullopt : std::move(records.front()));
          });
}

void RedisLoopCountValueStore::GetMany(std::span<const std::string> ids,
                                       Done<std::vector<std::optional<core::CountRecord>>> done) {
  if (ids.empty()) return done(nullptr, {});
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size());
  for (const auto& id : ids) commands.push_back({"HGETALL", store_.KeyOf(id)});
  Here().connection.Send(
      std::move(commands),
      [this, ids = std::vector<std::string>(ids.begin(), ids.end()), done = std::move(done)](
          std::exception_ptr error, Replies replies) mutable {
        std::vector<std::optional<core::CountRecord>> records;
        if (!error) {
          try {
            records.reserve(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i)
              records.push_back(RedisCountValueStore::ToRecord(ids[i], replies[i]));
          } catch (...) {
            error = std::current_exception();
            records.clear();
          }
        }
        // Sharded counters: their sub-counters too (a second round trip, for them only).
        std::vector<std::string> sharded;
        for (const auto& record : records)
          if (record && record->sharded && store_.layout().SubCounters() > 0)
            sharded.push_back(record->id);
        if (sharded.empty()) return done(error, std::move(records));
        ReadSums(std::move(sharded),
                 [records = std::move(records), done = std::move(done)](
                     std::exception_ptr error,
                     std::vector<std::optional<core::CountRecord>> sums) mutable {
                   for (auto& record : records)
                     for (auto& sum : sums)
                       if (record && sum && sum->id == record->id) record = sum;
                   done(error, error ? decltype(records){} : std::move(records));
                 });
      });
}

}  // namespace count::redis
