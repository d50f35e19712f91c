#include "core/trace.hpp"

#include <algorithm>

#include "core/random.hpp"

namespace count::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::size_t kVersion00Length = 55;

bool IsLowerHex(std::string_view s) {
  return std::ranges::all_of(
      s, [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllZeros(std::string_view s) {
  return std::ranges::all_of(s, [](char c) { return c == '0'; });
}

int HexDigit(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

template <std::size_t N>
void RandomHex(std::array<char, N>& out) {
  static_assert(N % 16 == 0);
  auto& generator = ThreadRandom();
  do {
    for (std::size_t i = 0; i < N; i += 16) {
      std::uint64_t bits = generator();
      for (std::size_t j = 0; j < 16; ++j, bits >>= 4) out[i + j] = kHex[bits & 15];
    }
  } while (AllZeros({out.data(), N}));  // an all-zero id is invalid
}

}  // namespace

std::string TraceContext::Format() const {
  if (!IsValid()) return {};
  std::string out;
  out.reserve(kVersion00Length);
  out.append("00-").append(TraceId()).append("-").append(SpanId()).append("-");
  out.push_back(kHex[flags >> 4]);
  out.push_back(kHex[flags & 15]);
  return out;
}

std::optional<TraceContext> ParseTraceparent(std::string_view text) {
  if (text.size() < kVersion00Length) return std::nullopt;
  const std::string_view version = text.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" ? text.size() != kVersion00Length
                      : text.size() > kVersion00Length && text[kVersion00Length] != '-')
    return std::nullopt;
  if (text[2] != '-' || text[35] != '-' || text[52] != '-') return std::nullopt;
  const std::string_view trace = text.substr(3, 32), span = text.substr(36, 16),
                         flags = text.substr(53, 2);
  if (!IsLowerHex(trace) || !IsLowerHex(span) || !IsLowerHex(flags) || AllZeros(trace) ||
      AllZeros(span))
    return std::nullopt;
  TraceContext t;
  std::ranges::copy(trace, t.trace_id.begin());
  std::ranges::copy(span, t.span_id.begin());
  t.flags = static_cast<std::uint8_t>(HexDigit(flags[0]) * 16 + HexDigit(flags[1]));
  return t;
}

TraceContext StartTrace() {
  TraceContext t;
  RandomHex(t.trace_id);
  RandomHex(t.span_id);
  return t;
}

TraceContext ChildSpan(const TraceContext& parent) {
  TraceContext t;
  t.trace_id = parent.trace_id;
  t.flags = parent.flags & kTraceSampled;
  RandomHex(t.span_id);
  return t;
}

TraceContext ContinueOrStart(std::optional<std::string_view> traceparent) {
  if (traceparent)
    if (auto parent = ParseTraceparent(*traceparent)) return ChildSpan(*parent);
  return StartTrace();
}

}  // namespace count::core
