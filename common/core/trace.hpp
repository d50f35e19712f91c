#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a request
// arrives with, or the one started for it, carried explicitly — a field of http::Request,
// core::Mutation and core::Event, never thread-local state — from the HTTP request through
// the outbox and the bus to the consumers' log lines (docs/ARCHITECTURE.md, "Tracing").
//
// Why hand-written: no C++ OpenTelemetry library is packaged in Debian 12, and the rule is
// a fixed 55-character layout.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace count::core {

inline constexpr std::string_view kTraceparentHeader = "traceparent";
inline constexpr std::uint8_t kTraceSampled = 0x01;

struct TraceContext {
  std::array<char, 32> trace_id{};  // lowercase hex; all '\0' when there is no trace
  std::array<char, 16> span_id{};   // the span that sent it on ("parent-id" on the wire)
  std::uint8_t flags = 0;           // bit 0: the caller records this trace (sampled)

  bool IsValid() const { return trace_id[0] != '\0'; }
  bool Sampled() const { return (flags & kTraceSampled) != 0; }
  std::string_view TraceId() const { return {trace_id.data(), trace_id.size()}; }
  std::string_view SpanId() const { return {span_id.data(), span_id.size()}; }
  // "00-<trace-id>-<span-id>-<flags>" (55 characters); empty when not valid.
  std::string Format() const;
  bool operator==(const TraceContext&) const = default;
};

// The W3C rule: version 2 lowercase hex digits other than "ff"; version 00 exactly 55
// characters, a later version at least 55 with '-' after them (its first fields read as
// 00's); trace-id 32 and parent-id 16 lowercase hex digits, neither all zeros; flags 2
// lowercase hex digits. nullopt for anything else.
std::optional<TraceContext> ParseTraceparent(std::string_view text);

// A new trace: random trace and span ids, not sampled.
TraceContext StartTrace();
// This process's span in `parent`'s trace: the same trace id and sampled flag, a new span id
// (other flag bits, unknown to version 00, are not passed on).
TraceContext ChildSpan(const TraceContext& parent);
// A request's span: a child of its valid `traceparent`; when absent or malformed (which
// W3C says to ignore), a new trace.
TraceContext ContinueOrStart(std::optional<std::string_view> traceparent);

}  // namespace count::core
