#pragma once
// The counter domain: what a counter is, the rules a write must obey, and the
// vocabulary the ports (stores) speak. No I/O here.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/trace.hpp"

namespace count::core {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

Timestamp Now();
// RFC 3339, UTC, millisecond precision: 2026-11-22T08:15:30.123Z
std::string FormatTimestamp(Timestamp t);
// The same, appended to `out`.
void AppendTimestamp(std::string& out, Timestamp t);
// Accepts RFC 3339 with 'Z' or a numeric offset and optional fraction.
std::optional<Timestamp> ParseTimestamp(std::string_view text);

inline constexpr std::size_t kMaxIdLength = 128;
inline constexpr std::size_t kMaxDescriptionLength = 1024;

// 1-128 characters, [A-Za-z0-9][A-Za-z0-9._:-]*, case-sensitive.
bool IsValidCountId(std::string_view id);

struct CountInfo {
  std::string id;
  std::string description;
  std::optional<std::int64_t> min_value;
  std::optional<std::int64_t> max_value;
  Timestamp created_at{};
  Timestamp updated_at{};
  // A hot counter spread over sub-counters on several shards (docs/API.md, "Hot counters"):
  // chosen at creation, never changed; no bounds, no `set`.
  bool sharded = false;
};

// A counter as it is served: its value and the information readers see with it.
struct CountRecord {
  std::string id;
  std::int64_t value = 0;
  std::string description;
  std::optional<std::int64_t> min_value;
  std::optional<std::int64_t> max_value;
  Timestamp created_at{};
  Timestamp updated_at{};
  bool sharded = false;
};

enum class MutationKind { kIncrement, kDecrement, kSet };
std::string_view ToString(MutationKind kind);
std::optional<MutationKind> ParseMutationKind(std::string_view text);

struct Mutation {
  MutationKind kind = MutationKind::kIncrement;
  std::string id;
  std::int64_t operand = 1;  // amount (>= 1) for increment/decrement, the new value for set
  TraceContext trace;        // the request's span: its event carries it (core/trace.hpp)
};

// Why a store refused one mutation. Nothing was changed.
// kSharded: a `set` of a sharded counter, which has no single value to set.
enum class MutationError { kNotFound, kOverflow, kBelowMin, kAboveMax, kSharded };

struct Applied {
  std::string id;
  std::int64_t value = 0;
  std::optional<std::int64_t> delta;  // value after - value before, when it fits int64
  Timestamp updated_at{};
};

using MutationOutcome = std::variant<Applied, MutationError>;

// The arithmetic rule shared by every value store that computes in C++ (SQLite, tests):
// applies `m` to `current`, refusing results outside int64 or outside the bounds.
MutationOutcome ApplyArithmetic(const Mutation& m, std::int64_t current,
                                std::optional<std::int64_t> min_value,
                                std::optional<std::int64_t> max_value);

// The rule for a stored counter: ApplyArithmetic with its value and bounds, and no `set` of a
// sharded counter (kSharded).
MutationOutcome ApplyTo(const Mutation& m, const CountRecord& current);

// Whether a value lies inside optional bounds.
bool WithinBounds(std::int64_t value, std::optional<std::int64_t> min_value,
                  std::optional<std::int64_t> max_value);

}  // namespace count::core
