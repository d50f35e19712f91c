#pragma once
// Internal to count_kafka: a LogSink that drops a message repeated within an interval, so a
// broker that stays down logs once in a while rather than on every reconnect attempt.
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "kafka/kafka_client.hpp"

namespace count::kafka {

class RateLimitedLog {
 public:
  explicit RateLimitedLog(LogSink sink,
                          std::chrono::steady_clock::duration interval = std::chrono::seconds(10))
      : sink_(std::move(sink)), interval_(interval) {}

  // Thread-safe. Messages with the same `key` count as repeats of each other.
  void Write(const std::string& message) { Write(message, message); }
  void Write(const std::string& key, const std::string& message) {
    if (!sink_) return;
    const auto now = std::chrono::steady_clock::now();
    std::size_t suppressed = 0;
    {
      std::lock_guard lock(mu_);
      if (last_.size() > 256) last_.clear();  // bounded, whatever the keys
      auto [it, fresh] = last_.try_emplace(key, Entry{now, 0});
      if (!fresh) {
        if (now - it->second.at < interval_) {
          ++it->second.suppressed;
          return;
        }
        suppressed = std::exchange(it->second.suppressed, 0);
        it->second.at = now;
      }
    }
    if (suppressed == 0)
      sink_(message);
    else
      sink_(message + " (repeated " + std::to_string(suppressed) + " more times)");
  }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point at;
    std::size_t suppressed;
  };
  LogSink sink_;
  std::chrono::steady_clock::duration interval_;
  std::mutex mu_;
  std::map<std::string, Entry> last_;
};

}  // namespace count::kafka
