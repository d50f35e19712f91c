#pragma once
// JSON lines on stdout: timestamp, level, message, logger, pod, plus any fields.
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "core/event.hpp"
#include "core/trace.hpp"

namespace count::runtime {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Throws std::invalid_argument for an unknown level name.
Level ParseLevel(std::string_view name);

class Log {
 public:
  static void Configure(Level level, std::string pod);
  static bool Enabled(Level level);
  static void Write(Level level, std::string_view logger, std::string_view message,
                    boost::json::object fields = {});
};

// The fields that tie a log line to a trace: "trace_id" and, under `span_key`, its span id.
void AddTraceFields(boost::json::object& fields, const core::TraceContext& trace,
                    std::string_view span_key = "span_id");

// A consumer's line about one event (its rollup, its live delivery), with the event's trace
// ("parent_id" is the span that wrote it). So that per-event lines never flood production
// logs, it is written at info only when the request that caused the event asked for its
// trace to be recorded (sampled flag 01), else at debug (docs/OPERATIONS.md, "Tracing").
Level EventLevel(const core::Event& event);
void WriteEvent(std::string_view logger, std::string_view message, const core::Event& event,
                boost::json::object fields = {});

}  // namespace count::runtime
