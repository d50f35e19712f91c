#include "app/counter_lifecycle.hpp"

#include <string>

namespace count::app {
namespace {

std::string Quoted(std::string_view id) { return "'" + std::string(id) + "'"; }

bool SameInformation(const core::CountInfo& a, const core::CountInfo& b) {
  return a.description == b.description && a.min_value == b.min_value &&
         a.max_value == b.max_value && a.sharded == b.sharded;
}

}  // namespace

template <typename Undo>
core::Problem CounterLifecycle::Rollback(std::string_view what,
                                         const core::StoreUnavailable& failure, Undo undo) {
  try {
    undo();
  } catch (const core::StoreUnavailable& again) {
    return core::Unavailable(std::string(what) + " is half done: the value store failed (" +
                             failure.what() + ") and undoing the information store failed (" +
                             again.what() + "); retry the same request to complete it");
  }
  return core::Unavailable(std::string(what) +
                           " failed and nothing was changed: " + failure.what());
}

Change CounterLifecycle::Create(const core::CountInfo& info, std::int64_t initial_value) {
  const auto exists = [&] {
    return Change{core::AlreadyExists("count " + Quoted(info.id) + " already exists"), {}};
  };
  if (!info_.Create(info)) {
    // A create left half done (see Rollback) is completed by its retry: the record holds
    // the same information and the value store has no such counter.
    const auto recorded = info_.Get(info.id);
    if (!recorded || !SameInformation(*recorded, info) || values_.Get(info.id)) return exists();
  }
  try {
    if (!values_.Create(info, initial_value)) {
      // The value store knows the id and the record did not: keep the record agreeing.
      info_.Delete(info.id);
      return exists();
    }
  } catch (const core::StoreUnavailable& e) {
    return {Rollback("creating " + Quoted(info.id), e, [&] { info_.Delete(info.id); }), {}};
  }
  return {std::nullopt, info};
}

Change CounterLifecycle::Update(const core::CountInfo& before, const core::CountInfo& info) {
  if (!info_.Update(info))
    return {core::NotFound("count " + Quoted(info.id) + " does not exist"), {}};
  core::CountValueStore::UpdateResult result;
  try {
    result = values_.UpdateInfo(info);
  } catch (const core::StoreUnavailable& e) {
    return {Rollback("changing " + Quoted(info.id), e, [&] { info_.Update(before); }), {}};
  }
  if (result == core::CountValueStore::UpdateResult::kValueOutsideBounds) {
    info_.Update(before);
    return {core::OutOfBounds("the current value of " + Quoted(info.id) +
                              " lies outside the new bounds"),
            {}};
  }
  // kNotFound: the value store lost the counter (see reconcile); the record still changes.
  return {std::nullopt, info};
}

Change CounterLifecycle::Delete(std::string_view id, bool purge_history) {
  const auto before = info_.Get(id);
  if (before) info_.Delete(id);
  bool had_value = false;
  try {
    had_value = values_.Delete(id, purge_history);
  } catch (const core::StoreUnavailable& e) {
    if (!before) throw;  // nothing to undo: the plain 503
    return {Rollback("deleting " + Quoted(id), e, [&] { info_.Create(*before); }), {}};
  }
  if (!before && !had_value) return {core::NotFound("count " + Quoted(id) + " does not exist"), {}};
  return {std::nullopt, before};
}

}  // namespace count::app
