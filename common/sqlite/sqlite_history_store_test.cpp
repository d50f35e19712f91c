#include "sqlite/sqlite_history_store.hpp"

#include "testing/history_store_contract.hpp"
#include "testing/process.hpp"

namespace count::sqlite {
struct SqliteBackend {
  static constexpr std::size_t kRowsOfOnePrunedMinute = 2;  // the minute, the event id
  core::HistoryStore& store() { return store_; }

  testing::TempDir dir_;
  SqliteDatabase db_{dir_.path() / "count.db"};
  SqliteHistoryStore store_{db_};
};

}  // namespace count::sqlite

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, HistoryStoreContract, count::sqlite::SqliteBackend);
}  // namespace count::testing
