// The fuzz targets' in-memory value store obeys the same counting rule as Redis and SQLite:
// the one contract suite (common/testing/count_value_store_contract.hpp).
#include "harness/memory_stores.hpp"
#include "testing/count_value_store_contract.hpp"

namespace count::fuzz {
struct MemoryValueBackend {
  MemoryValues values;
  core::CountValueStore& store() { return values; }
  std::size_t max_batch() const { return 1000; }
};
}  // namespace count::fuzz

namespace count::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Memory, CountValueStoreContract, count::fuzz::MemoryValueBackend);
}  // namespace count::testing
