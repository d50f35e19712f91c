#pragma once
// CountInfoStore on PostgreSQL: the `count_info` table of the countinfo database
// (migrations/countinfo). Run Migrate(pool, "countinfo") before use.
#include "core/ports.hpp"
#include "postgres/pg_pool.hpp"

namespace count::postgres {

class PostgresCountInfoStore : public core::CountInfoStore {
 public:
  explicit PostgresCountInfoStore(PgPool& pool) : pool_(pool) {}

  bool Create(const core::CountInfo& info) override;
  std::optional<core::CountInfo> Get(std::string_view id) override;
  core::CountPage List(std::string_view prefix, std::size_t limit,
                       std::string_view after_id) override;
  bool Update(const core::CountInfo& info) override;
  bool Delete(std::string_view id) override;
  bool Ping() override;

 private:
  PgPool& pool_;
};

// `prefix` with LIKE's wildcards (% and _) and escape character (\) escaped, then `%`.
std::string LikePrefixPattern(std::string_view prefix);

}  // namespace count::postgres
