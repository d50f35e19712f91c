#include "redis/redis_loop_count_value_store.hpp"

#include <atomic>
#include <deque>
#include <stdexcept>

#include "core/group_commit.hpp"
#include "redis/group_parts.hpp"

namespace count::redis {

struct RedisLoopCountValueStore::Pending : RedisCountValueStore::ApplyRequest {
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
    lane->groups.emplace_back(RedisCountValueStore::kMaxBatch, [this](auto batch, auto finished) {
      Send(Here(), std::move(batch), std::move(finished), false);
    });
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
  const auto group = store_.GroupOf(mutations);
  if (!group) return ApplySplit(mutations, key, std::move(done));
  auto* pending = new Pending{{mutations, key, *group, {}, nullptr}, std::move(done)};
  Here().groups[*group].Submit(*pending, mutations.size());
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
    for (auto* p : batch) {
      std::unique_ptr<Pending> own(p);
      own->done(own->error, std::move(own->result));
    }
  });
}

void RedisLoopCountValueStore::Get(std::string_view id,
                                   Done<std::optional<core::CountRecord>> done) {
  std::vector<std::vector<std::string>> command{{"HGETALL", store_.KeyOf(id)}};
  Here().connection.Send(std::move(command), [id = std::string(id), done = std::move(done)](
                                                 std::exception_ptr error, Replies replies) {
    std::optional<core::CountRecord> record;
    if (!error) {
      try {
        record = RedisCountValueStore::ToRecord(id, replies.front());
      } catch (...) {
        error = std::current_exception();
      }
    }
    done(error, std::move(record));
  });
}

void RedisLoopCountValueStore::GetMany(std::span<const std::string> ids,
                                       Done<std::vector<std::optional<core::CountRecord>>> done) {
  if (ids.empty()) return done(nullptr, {});
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size());
  for (const auto& id : ids) commands.push_back({"HGETALL", store_.KeyOf(id)});
  Here().connection.Send(std::move(commands), [ids, done = std::move(done)](
                                                  std::exception_ptr error, Replies replies) {
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
    done(error, std::move(records));
  });
}

}  // namespace count::redis
