#include "postgres/postgres_count_info_store.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace count::postgres {

namespace {

// Timestamps cross the wire as epoch milliseconds, converted exactly (integer arithmetic).
constexpr std::string_view kColumns =
    "id, description, min_value, max_value,"
    " floor(extract(epoch FROM created_at) * 1000)::bigint,"
    " floor(extract(epoch FROM updated_at) * 1000)::bigint, sharded";

std::string FromMillis(int n) {
  return "(timestamptz 'epoch' + $" + std::to_string(n) + "::bigint * interval '1 millisecond')";
}

std::string Millis(core::Timestamp t) { return std::to_string(t.time_since_epoch().count()); }

std::optional<std::string> OptionalText(std::optional<std::int64_t> v) {
  if (!v) return std::nullopt;
  return std::to_string(*v);
}

core::CountInfo ReadRow(const PgResult& r, int row) {
  core::CountInfo info;
  info.id = r.String(row, 0);
  info.description = r.String(row, 1);
  info.min_value = r.OptionalInt64(row, 2);
  info.max_value = r.OptionalInt64(row, 3);
  info.created_at = core::Timestamp(std::chrono::milliseconds(r.Int64(row, 4)));
  info.updated_at = core::Timestamp(std::chrono::milliseconds(r.Int64(row, 5)));
  info.sharded = r.String(row, 6) == "t";
  return info;
}

}  // namespace

std::string LikePrefixPattern(std::string_view prefix) {
  std::string out;
  out.reserve(prefix.size() + 1);
  for (char c : prefix) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('%');
  return out;
}

bool PostgresCountInfoStore::Create(const core::CountInfo& info) {
  static const std::string sql =
      "INSERT INTO count_info (id, description, min_value, max_value, created_at, updated_at,"
      " sharded) VALUES ($1, $2, $3::bigint, $4::bigint, " +
      FromMillis(5) + ", " + FromMillis(6) + ", $7::boolean) ON CONFLICT (id) DO NOTHING";
  return pool_
             .Exec(sql, {info.id, info.description, OptionalText(info.min_value),
                         OptionalText(info.max_value), Millis(info.created_at),
                         Millis(info.updated_at), std::string(info.sharded ? "true" : "false")})
             .affected_rows() == 1;
}

std::optional<core::CountInfo> PostgresCountInfoStore::Get(std::string_view id) {
  static const std::string sql =
      "SELECT " + std::string(kColumns) + " FROM count_info WHERE id = $1";
  const PgResult r = pool_.Exec(sql, {std::string(id)});
  if (r.rows() == 0) return std::nullopt;
  return ReadRow(r, 0);
}

core::CountPage PostgresCountInfoStore::List(std::string_view prefix, std::size_t limit,
                                             std::string_view after_id) {
  core::CountPage page;
  if (limit == 0) return page;
  // Keyset paging: ids are non-empty, so `id > ''` keeps every row of the first page.
  static const std::string sql = "SELECT " + std::string(kColumns) +
                                 " FROM count_info WHERE id LIKE $1 AND id > $2"
                                 " ORDER BY id LIMIT $3";
  const std::size_t capped = std::min<std::size_t>(limit, std::numeric_limits<std::int32_t>::max());
  const PgResult r = pool_.Exec(
      sql, {LikePrefixPattern(prefix), std::string(after_id), std::to_string(capped + 1)});
  const int shown = std::min<int>(r.rows(), static_cast<int>(capped));
  page.items.reserve(shown);
  for (int row = 0; row < shown; ++row) page.items.push_back(ReadRow(r, row));
  if (r.rows() > shown) page.next_cursor = page.items.back().id;
  return page;
}

bool PostgresCountInfoStore::Update(const core::CountInfo& info) {
  static const std::string sql =
      "UPDATE count_info SET description = $2, min_value = $3::bigint, max_value = $4::bigint,"
      " updated_at = " +
      FromMillis(5) + " WHERE id = $1";
  return pool_
             .Exec(sql, {info.id, info.description, OptionalText(info.min_value),
                         OptionalText(info.max_value), Millis(info.updated_at)})
             .affected_rows() == 1;
}

bool PostgresCountInfoStore::Delete(std::string_view id) {
  return pool_.Exec("DELETE FROM count_info WHERE id = $1", {std::string(id)}).affected_rows() == 1;
}

bool PostgresCountInfoStore::Ping() { return pool_.Ping(); }

}  // namespace count::postgres
