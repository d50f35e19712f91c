#pragma once
// UC-003's use cases: counters as administrators see and change them. Reads join the
// information store (the record of which counters exist) with the value store; changes go
// through app::CounterLifecycle, which owns the order of the two stores' writes.
#include <optional>
#include <string>
#include <vector>

#include "app/counter_lifecycle.hpp"
#include "core/ports.hpp"
#include "core/problem.hpp"

namespace count::management {

// A counter's information with its value; `value` is empty when the value store lost it
// (shown as such, never invented: see `reconcile`).
struct CounterView {
  core::CountInfo info;
  std::optional<core::CountRecord> value;
};

struct ViewPage {
  std::vector<CounterView> items;
  std::optional<std::string> next_cursor;
};

struct NewCounter {
  core::CountInfo info;                       // id, description, bounds
  std::optional<std::int64_t> initial_value;  // default: 0, or the bound nearest to 0
};

// A change of information: absent fields stay; a bound set to nullopt is cleared.
struct InfoPatch {
  std::optional<std::string> description;
  std::optional<std::optional<std::int64_t>> min_value, max_value;
  std::optional<bool> sharded;  // only to say it again: it never changes
};

struct ViewResult {
  std::optional<core::Problem> problem;
  std::optional<CounterView> view;
};

class CountAdmin {
 public:
  CountAdmin(core::CountInfoStore& info, core::CountValueStore& values)
      : info_(info), values_(values), lifecycle_(info, values) {}

  ViewPage List(std::string_view prefix, std::size_t limit, std::string_view after_id);
  std::optional<CounterView> Get(std::string_view id);
  ViewResult Create(NewCounter counter);
  ViewResult Update(std::string_view id, const InfoPatch& patch);
  std::optional<core::Problem> Delete(std::string_view id, bool purge_history);

 private:
  CounterView View(core::CountInfo info) { return {info, values_.Get(info.id)}; }

  core::CountInfoStore& info_;
  core::CountValueStore& values_;
  app::CounterLifecycle lifecycle_;
};

}  // namespace count::management
