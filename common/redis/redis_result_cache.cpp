#include "redis/redis_result_cache.hpp"

namespace count::redis {
namespace {

std::int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr std::string_view kPrefix = "cache:";

}  // namespace

bool RedisResultCache::Available() const { return SteadyMs() >= retry_at_ms_.load(); }
void RedisResultCache::Failed() { retry_at_ms_ = SteadyMs() + backoff_.count(); }

std::optional<std::string> RedisResultCache::Get(std::string_view key) {
  if (!Available()) return std::nullopt;
  try {
    Reply r = client_.Command({"GET", std::string(kPrefix) + std::string(key)});
    if (r.type == Reply::Type::kString) return std::move(r.str);
    if (r.IsError()) Failed();
  } catch (const core::StoreUnavailable&) {
    Failed();
  }
  return std::nullopt;
}

void RedisResultCache::Put(std::string_view key, std::string_view value,
                           std::chrono::milliseconds ttl) {
  if (!Available()) return;
  try {
    Reply r = client_.Command({"SET", std::string(kPrefix) + std::string(key), std::string(value),
                               "PX", std::to_string(ttl.count())});
    if (r.IsError()) Failed();
  } catch (const core::StoreUnavailable&) {
    Failed();
  }
}

}  // namespace count::redis
