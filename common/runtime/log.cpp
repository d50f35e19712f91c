#include "runtime/log.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <stdexcept>

#include "core/count.hpp"

namespace count::runtime {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::string g_pod = "unknown";

std::string_view Name(Level l) {
  switch (l) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARNING";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}
}  // namespace

Level ParseLevel(std::string_view n) {
  if (n == "debug" || n == "DEBUG") return Level::kDebug;
  if (n == "info" || n == "INFO") return Level::kInfo;
  if (n == "warn" || n == "warning" || n == "WARN" || n == "WARNING") return Level::kWarn;
  if (n == "error" || n == "ERROR") return Level::kError;
  throw std::invalid_argument("unknown log level '" + std::string(n) + "'");
}

void Log::Configure(Level level, std::string pod) {
  g_level.store(static_cast<int>(level));
  g_pod = std::move(pod);
}

bool Log::Enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

void Log::Write(Level level, std::string_view logger, std::string_view message,
                boost::json::object fields) {
  if (!Enabled(level)) return;
  boost::json::object line;
  line.reserve(fields.size() + 5);
  line["timestamp"] = core::FormatTimestamp(core::Now());
  line["level"] = Name(level);
  line["message"] = message;
  line["logger"] = logger;
  line["pod"] = g_pod;
  for (auto& [k, v] : fields) line[k] = std::move(v);
  std::string text = boost::json::serialize(line);
  text.push_back('\n');
  // One write(2) per line: lines from concurrent threads never interleave.
  std::size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, text.data() + off, text.size() - off);
    if (n <= 0) break;
    off += static_cast<std::size_t>(n);
  }
}

void AddTraceFields(boost::json::object& fields, const core::TraceContext& trace,
                    std::string_view span_key) {
  if (!trace.IsValid()) return;
  fields["trace_id"] = trace.TraceId();
  fields[span_key] = trace.SpanId();
}

Level EventLevel(const core::Event& event) {
  return event.trace.Sampled() ? Level::kInfo : Level::kDebug;
}

void WriteEvent(std::string_view logger, std::string_view message, const core::Event& event,
                boost::json::object fields) {
  const Level level = EventLevel(event);
  if (!Log::Enabled(level)) return;
  fields["event_id"] = event.event_id;
  fields["count_id"] = event.count_id;
  AddTraceFields(fields, event.trace, "parent_id");
  Log::Write(level, logger, message, std::move(fields));
}

}  // namespace count::runtime
