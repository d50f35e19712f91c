#pragma once
// Configuration comes from the environment only. A missing or malformed required
// setting stops the service at start with a ConfigError that names it.
#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace count::runtime {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Env {
 public:
  // An unset or empty variable is absent.
  std::optional<std::string> Get(std::string_view name) const;
  std::string Require(std::string_view name) const;
  std::string Or(std::string_view name, std::string fallback) const;
  std::int64_t Int(std::string_view name, std::int64_t fallback, std::int64_t min,
                   std::int64_t max) const;
  bool Bool(std::string_view name, bool fallback) const;

  // Every setting read so far, secrets redacted: for the one start-up log line.
  boost::json::object Effective() const;

 private:
  void Record(std::string_view name, const std::optional<std::string>& value) const;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::string, std::less<>> seen_;
};

// "redis://user:secret@host:6379/0" → "redis://user:***@host:6379/0".
std::string RedactUrl(std::string_view url);

}  // namespace count::runtime
