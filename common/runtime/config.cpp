#include "runtime/config.hpp"

#include <charconv>
#include <cstdlib>

namespace count::runtime {
namespace {
bool IsSecretName(std::string_view name) {
  for (std::string_view s : {"KEY", "PASSWORD", "SECRET", "TOKEN"})
    if (name.find(s) != std::string_view::npos) return true;
  return false;
}
}  // namespace

std::string RedactUrl(std::string_view url) {
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const auto at = url.find('@', scheme + 3);
  if (at == std::string_view::npos) return std::string(url);
  const auto colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

void Env::Record(std::string_view name, const std::optional<std::string>& value) const {
  std::lock_guard lock(mu_);
  std::string shown = !value ? "(unset)" : IsSecretName(name) ? "***" : RedactUrl(*value);
  seen_.insert_or_assign(std::string(name), std::move(shown));
}

std::optional<std::string> Env::Get(std::string_view name) const {
  const char* v = std::getenv(std::string(name).c_str());
  std::optional<std::string> value;
  if (v && *v) value = v;
  Record(name, value);
  return value;
}

std::string Env::Require(std::string_view name) const {
  auto v = Get(name);
  if (!v) throw ConfigError("required setting " + std::string(name) + " is not set");
  return *v;
}

std::string Env::Or(std::string_view name, std::string fallback) const {
  return Get(name).value_or(std::move(fallback));
}

std::int64_t Env::Int(std::string_view name, std::int64_t fallback, std::int64_t min,
                      std::int64_t max) const {
  auto v = Get(name);
  if (!v) return fallback;
  std::int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc{} || p != v->data() + v->size() || out < min || out > max)
    throw ConfigError("setting " + std::string(name) + "='" + *v + "' is not an integer in [" +
                      std::to_string(min) + ", " + std::to_string(max) + "]");
  return out;
}

bool Env::Bool(std::string_view name, bool fallback) const {
  auto v = Get(name);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || *v == "yes") return true;
  if (*v == "false" || *v == "0" || *v == "no") return false;
  throw ConfigError("setting " + std::string(name) + "='" + *v + "' is not true or false");
}

boost::json::object Env::Effective() const {
  std::lock_guard lock(mu_);
  boost::json::object o;
  for (const auto& [k, v] : seen_) o[k] = v;
  return o;
}

}  // namespace count::runtime
