#include "history_retention.hpp"

#include <exception>

#include "runtime/log.hpp"

namespace count::analysis {

void HistoryRetention::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void HistoryRetention::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t HistoryRetention::RunOnce(core::Timestamp now) {
  std::size_t dropped = 0;
  for (;;) {
    const std::size_t step = history_.Prune(now - keep_, kStep);
    dropped += step;
    std::lock_guard lock(mu_);
    if (step < kStep || stopping_) break;
  }
  if (dropped > 0)
    runtime::Log::Write(runtime::Level::kInfo, "retention", "history pruned",
                        {{"rows", dropped}, {"retention_days", keep_.count()}});
  return dropped;
}

void HistoryRetention::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    try {
      RunOnce(core::Now());
    } catch (const std::exception& e) {
      runtime::Log::Write(runtime::Level::kWarn, "retention", "pruning history failed",
                          {{"error", e.what()}});
    }
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace count::analysis
