#pragma once
// JSON lines on stdout: timestamp, level, message, logger, pod, plus any fields.
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

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

}  // namespace count::runtime
