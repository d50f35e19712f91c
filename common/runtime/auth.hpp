#pragma once
// API keys with scopes. Keys are configured as SHA-256 hashes (COUNT_API_KEYS or the
// file named by COUNT_API_KEYS_FILE), compared in constant time, and never logged.
#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace count::runtime {

inline constexpr std::string_view kScopeWrite = "count:write";
inline constexpr std::string_view kScopeRead = "count:read";
inline constexpr std::string_view kScopeAdmin = "admin";

std::string Sha256Hex(std::string_view data);

class ApiKeys {
 public:
  // `[{"name":..., "scopes":[...], "sha256":"<hex>"}]`; throws std::invalid_argument
  // with the reason on anything else.
  static ApiKeys FromJson(std::string_view json);

  void Add(std::string name, std::vector<std::string> scopes, std::string sha256_hex);
  // The key's principal (owned here: no copy per request), or null.
  const http::Principal* Authenticate(std::string_view key) const;
  bool empty() const { return entries_.empty(); }

 private:
  struct Entry {
    http::Principal principal;
    std::array<unsigned char, 32> digest;
  };
  std::vector<Entry> entries_;
};

// Short-lived bearer tokens for a URL (an EventSource cannot send headers), so a page never
// puts an API key in one: "<expiry ms>.<HMAC-SHA256 of it, hex>". Replicas that share the
// secret accept each other's tokens.
class StreamTokens {
 public:
  explicit StreamTokens(std::string secret) : secret_(std::move(secret)) {}
  std::string Issue(std::chrono::system_clock::time_point expires) const;
  bool Valid(std::string_view token, std::chrono::system_clock::time_point now) const;

 private:
  std::string Sign(std::string_view payload) const;
  std::string secret_;
};

// `bytes` random bytes as hex, from OpenSSL's CSPRNG (keys, secrets).
std::string RandomHex(std::size_t bytes);

}  // namespace count::runtime
