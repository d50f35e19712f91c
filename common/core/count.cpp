#include "core/count.hpp"

#include <fmt/compile.h>

#include <charconv>
#include <iterator>

namespace count::core {

Timestamp Now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string FormatTimestamp(Timestamp t) {
  std::string out;
  out.reserve(24);
  AppendTimestamp(out, t);
  return out;
}

void AppendTimestamp(std::string& out, Timestamp t) {
  using namespace std::chrono;
  // Every answer and event carries one, and most fall in the same second as the one before:
  // the calendar part ("2026-11-22T08:15:30.") is kept per thread and only the milliseconds
  // are written (the civil-date arithmetic was 2 % of the write service's CPU).
  thread_local sys_seconds cached_second{seconds::min()};
  thread_local std::string cached_prefix;
  const auto second = floor<seconds>(t);
  if (second != cached_second) {
    const auto day = floor<days>(second);
    const year_month_day ymd{day};
    const hh_mm_ss hms{second - day};
    cached_prefix.clear();
    fmt::format_to(std::back_inserter(cached_prefix),
                   FMT_COMPILE("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}."), int(ymd.year()),
                   unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                   int(hms.minutes().count()), int(hms.seconds().count()));
    cached_second = second;
  }
  out += cached_prefix;
  fmt::format_to(std::back_inserter(out), FMT_COMPILE("{:03}Z"),
                 int(duration_cast<milliseconds>(t - second).count()));
}

namespace {
bool ReadInt(std::string_view& s, std::size_t digits, int& out) {
  if (s.size() < digits) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + digits, out);
  if (ec != std::errc{} || p != s.data() + digits) return false;
  s.remove_prefix(digits);
  return true;
}
bool Expect(std::string_view& s, char c) {
  if (s.empty() || (s.front() != c && !(c == 'T' && (s.front() == 't' || s.front() == ' '))))
    return false;
  s.remove_prefix(1);
  return true;
}
}  // namespace

std::optional<Timestamp> ParseTimestamp(std::string_view s) {
  using namespace std::chrono;
  int y, mo, d, h, mi, sec;
  if (!ReadInt(s, 4, y) || !Expect(s, '-') || !ReadInt(s, 2, mo) || !Expect(s, '-') ||
      !ReadInt(s, 2, d) || !Expect(s, 'T') || !ReadInt(s, 2, h) || !Expect(s, ':') ||
      !ReadInt(s, 2, mi) || !Expect(s, ':') || !ReadInt(s, 2, sec))
    return std::nullopt;
  int millis = 0;
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    int digits = 0;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      if (digits < 3) millis = millis * 10 + (s.front() - '0');
      ++digits;
      s.remove_prefix(1);
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 3; ++i) millis *= 10;
  }
  int offset_minutes = 0;
  if (s == "Z" || s == "z") {
    s.remove_prefix(1);
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    const int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh, om;
    if (!ReadInt(s, 2, oh) || !Expect(s, ':') || !ReadInt(s, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return std::nullopt;
  }
  if (!s.empty()) return std::nullopt;
  const year_month_day ymd{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  return sys_days{ymd} + hours{h} + minutes{mi} + seconds{std::min(sec, 59)} +
         milliseconds{millis} - minutes{offset_minutes};
}

bool IsValidCountId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id.front())) return false;
  for (char c : id)
    if (!alnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  return true;
}

std::string_view ToString(MutationKind kind) {
  switch (kind) {
    case MutationKind::kIncrement:
      return "increment";
    case MutationKind::kDecrement:
      return "decrement";
    case MutationKind::kSet:
      return "set";
  }
  return "?";
}

std::optional<MutationKind> ParseMutationKind(std::string_view text) {
  if (text == "increment") return MutationKind::kIncrement;
  if (text == "decrement") return MutationKind::kDecrement;
  if (text == "set") return MutationKind::kSet;
  return std::nullopt;
}

bool WithinBounds(std::int64_t value, std::optional<std::int64_t> min_value,
                  std::optional<std::int64_t> max_value) {
  return (!min_value || value >= *min_value) && (!max_value || value <= *max_value);
}

MutationOutcome ApplyTo(const Mutation& m, const CountRecord& current) {
  if (current.sharded && m.kind == MutationKind::kSet) return MutationError::kSharded;
  return ApplyArithmetic(m, current.value, current.min_value, current.max_value);
}

MutationOutcome ApplyArithmetic(const Mutation& m, std::int64_t current,
                                std::optional<std::int64_t> min_value,
                                std::optional<std::int64_t> max_value) {
  std::int64_t next = 0;
  switch (m.kind) {
    case MutationKind::kIncrement:
      if (__builtin_add_overflow(current, m.operand, &next)) return MutationError::kOverflow;
      break;
    case MutationKind::kDecrement:
      if (__builtin_sub_overflow(current, m.operand, &next)) return MutationError::kOverflow;
      break;
    case MutationKind::kSet:
      next = m.operand;
      break;
  }
  if (min_value && next < *min_value) return MutationError::kBelowMin;
  if (max_value && next > *max_value) return MutationError::kAboveMax;
  Applied applied{m.id, next, std::nullopt, {}};
  std::int64_t delta = 0;
  if (!__builtin_sub_overflow(next, current, &delta)) applied.delta = delta;
  return applied;
}

}  // namespace count::core
