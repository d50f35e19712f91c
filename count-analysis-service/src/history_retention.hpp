#pragma once
// Retention (HISTORY_RETENTION_DAYS): prunes history older than `keep` on a background
// thread, at once and then every `interval`, until Stop(). A pass prunes in bounded steps,
// so Stop() waits for one short step at most; a failed pass is logged and retried at the
// next interval.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/history.hpp"

namespace count::analysis {

class HistoryRetention {
 public:
  HistoryRetention(core::HistoryStore& history, std::chrono::days keep,
                   std::chrono::milliseconds interval)
      : history_(history), keep_(keep), interval_(interval) {}
  ~HistoryRetention() { Stop(); }
  HistoryRetention(const HistoryRetention&) = delete;
  HistoryRetention& operator=(const HistoryRetention&) = delete;

  void Start();
  // Returns once the thread has ended (after the step under way).
  void Stop();
  // One pass as of `now`, step by step until done or stopped; returns the rows it dropped.
  std::size_t RunOnce(core::Timestamp now);

  static constexpr std::size_t kStep = 10'000;  // rows of each kind per step

 private:
  void Loop();

  core::HistoryStore& history_;
  const std::chrono::days keep_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace count::analysis
