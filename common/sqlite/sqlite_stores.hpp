#pragma once
// The standalone stores: CountInfo and CountValue in one SQLite database.
#include <memory>

#include "core/ports.hpp"
#include "sqlite/sqlite_database.hpp"

namespace count::sqlite {

class SqliteCountInfoStore final : public core::CountInfoStore {
 public:
  explicit SqliteCountInfoStore(SqliteDatabase& db) : db_(db) {}
  bool Create(const core::CountInfo& info) override;
  std::optional<core::CountInfo> Get(std::string_view id) override;
  core::CountPage List(std::string_view prefix, std::size_t limit,
                       std::string_view after_id) override;
  bool Update(const core::CountInfo& info) override;
  bool Delete(std::string_view id) override;
  bool Ping() override { return true; }

 private:
  SqliteDatabase& db_;
};

class SqliteCountValueStore final : public core::CountValueStore {
 public:
  explicit SqliteCountValueStore(SqliteDatabase& db);
  ~SqliteCountValueStore() override;

  core::ApplyResult Apply(std::span<const core::Mutation> mutations,
                          const core::IdempotencyKey* key, bool auto_create) override;
  std::optional<core::CountRecord> Get(std::string_view id) override;
  std::vector<std::optional<core::CountRecord>> GetMany(std::span<const std::string> ids) override;
  bool Create(const core::CountInfo& info, std::int64_t initial_value) override;
  UpdateResult UpdateInfo(const core::CountInfo& info) override;
  bool Delete(std::string_view id) override;
  bool Ping() override { return true; }

 private:
  struct Statements;
  std::optional<core::CountRecord> GetLocked(std::string_view id);
  SqliteDatabase& db_;
  std::unique_ptr<Statements> st_;
};

}  // namespace count::sqlite
