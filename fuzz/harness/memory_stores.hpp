#pragma once
// In-memory stores for the fuzz targets: the ports' contracts without I/O, so a target
// runs the real handlers thousands of times a second and each input starts from nothing.
#include <map>
#include <string>

#include "core/history.hpp"
#include "core/ports.hpp"

namespace count::fuzz {

// A fixed clock: inputs replay identically.
inline constexpr core::Timestamp kNow{std::chrono::milliseconds(1'790'000'000'000)};

class MemoryValues final : public core::CountValueStore {
 public:
  core::ApplyResult Apply(std::span<const core::Mutation> mutations,
                          const core::IdempotencyKey* key) override;
  std::optional<core::CountRecord> Get(std::string_view id) override;
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override;
  bool Create(const core::CountInfo& info, std::int64_t initial_value) override;
  UpdateResult UpdateInfo(const core::CountInfo& info) override;
  bool Delete(std::string_view id, bool purge_history) override;
  bool Ping() override { return true; }

 private:
  std::map<std::string, core::CountRecord, std::less<>> records_;
  std::map<std::string, std::pair<std::string, core::ApplyResult>> keys_;
};

class MemoryInfo final : public core::CountInfoStore {
 public:
  bool Create(const core::CountInfo& info) override;
  std::optional<core::CountInfo> Get(std::string_view id) override;
  core::CountPage List(std::string_view prefix, std::size_t limit,
                       std::string_view after_id) override;
  bool Update(const core::CountInfo& info) override;
  bool Delete(std::string_view id) override;
  bool Ping() override { return true; }

 private:
  std::map<std::string, core::CountInfo, std::less<>> infos_;
};

// Imported points only (events are not fed here); buckets folded from them on demand.
class MemoryHistory final : public core::HistoryStore {
 public:
  std::size_t Record(std::span<const core::Event> events) override { return 0; }
  std::size_t Import(std::span<const core::HistoryPoint> points) override;
  std::vector<core::Bucket> Series(std::string_view count_id, core::Timestamp from,
                                   core::Timestamp to, core::Unit unit) override;
  std::optional<core::HistoryPoint> Latest(std::string_view count_id) override;
  std::optional<core::HistoryPoint> LastIn(std::string_view count_id, core::Timestamp from,
                                           core::Timestamp to) override;
  void Purge(std::string_view count_id) override;
  std::size_t Prune(core::Timestamp before, std::size_t limit) override { return 0; }
  bool Ping() override { return true; }

 private:
  // count id → time → value
  std::map<std::string, std::map<core::Timestamp, std::int64_t>, std::less<>> points_;
};

}  // namespace count::fuzz
