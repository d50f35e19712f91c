#include "runtime/auth.hpp"

#include "core/hex.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <boost/json/parse.hpp>
#include <charconv>
#include <memory>
#include <stdexcept>

namespace count::runtime {
namespace {

// SHA-256 with the algorithm fetched once and a context per thread: OpenSSL 3's one-shot
// SHA256() fetches the algorithm (under a lock) and allocates a context on every call,
// which cost more than the hashing itself on every authenticated request.
std::array<unsigned char, 32> Digest(std::string_view data) {
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                 &EVP_MD_CTX_free);
  std::array<unsigned char, 32> d{};
  if (!kSha256 || !ctx || !EVP_DigestInit_ex2(ctx.get(), kSha256, nullptr) ||
      !EVP_DigestUpdate(ctx.get(), data.data(), data.size()) ||
      !EVP_DigestFinal_ex(ctx.get(), d.data(), nullptr))
    throw std::runtime_error("SHA-256 is not available from OpenSSL");
  return d;
}

bool FromHex(std::string_view hex, std::array<unsigned char, 32>& out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

}  // namespace

std::string Sha256Hex(std::string_view data) { return core::ToHex(Digest(data)); }

void ApiKeys::Add(std::string name, std::vector<std::string> scopes, std::string sha256_hex) {
  Entry e{{std::move(name), std::move(scopes)}, {}};
  if (!FromHex(sha256_hex, e.digest))
    throw std::invalid_argument("key '" + e.principal.name + "': sha256 must be 64 hex digits");
  for (const auto& s : e.principal.scopes)
    if (s != kScopeWrite && s != kScopeRead && s != kScopeAdmin)
      throw std::invalid_argument("key '" + e.principal.name + "': unknown scope '" + s + "'");
  entries_.push_back(std::move(e));
}

ApiKeys ApiKeys::FromJson(std::string_view json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json, ec);
  if (ec || !value.is_array()) throw std::invalid_argument("expected a JSON array of keys");
  ApiKeys keys;
  for (const auto& item : value.as_array()) {
    const auto* o = item.if_object();
    const auto* name = o ? o->if_contains("name") : nullptr;
    const auto* scopes = o ? o->if_contains("scopes") : nullptr;
    const auto* hash = o ? o->if_contains("sha256") : nullptr;
    if (!name || !name->is_string() || !scopes || !scopes->is_array() || !hash ||
        !hash->is_string())
      throw std::invalid_argument("each key needs \"name\", \"scopes\" and \"sha256\"");
    std::vector<std::string> list;
    for (const auto& s : scopes->as_array()) {
      if (!s.is_string()) throw std::invalid_argument("scopes must be strings");
      list.emplace_back(s.as_string());
    }
    keys.Add(std::string(name->as_string()), std::move(list), std::string(hash->as_string()));
  }
  return keys;
}

const http::Principal* ApiKeys::Authenticate(std::string_view key) const {
  const auto digest = Digest(key);
  const Entry* match = nullptr;
  // Compare against every entry, in constant time each, so timing reveals nothing.
  for (const auto& e : entries_)
    if (CRYPTO_memcmp(e.digest.data(), digest.data(), digest.size()) == 0) match = &e;
  return match ? &match->principal : nullptr;
}

std::string StreamTokens::Sign(std::string_view payload) const {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac.data(), &size);
  return core::ToHex(std::span(mac.data(), size));
}

std::string StreamTokens::Issue(std::chrono::system_clock::time_point expires) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(expires.time_since_epoch());
  const std::string payload = std::to_string(ms.count());
  return payload + "." + Sign(payload);
}

bool StreamTokens::Valid(std::string_view token, std::chrono::system_clock::time_point now) const {
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return false;
  const auto payload = token.substr(0, dot), mac = token.substr(dot + 1);
  std::int64_t ms = 0;
  const auto [end, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), ms);
  if (ec != std::errc{} || end != payload.data() + payload.size()) return false;
  const std::string expected = Sign(payload);
  if (mac.size() != expected.size() || CRYPTO_memcmp(mac.data(), expected.data(), mac.size()) != 0)
    return false;
  return now.time_since_epoch() < std::chrono::milliseconds(ms);
}

std::string RandomHex(std::size_t bytes) {
  std::vector<unsigned char> data(bytes);
  if (RAND_bytes(data.data(), static_cast<int>(data.size())) != 1)
    throw std::runtime_error("no randomness available");
  return core::ToHex(data);
}

}  // namespace count::runtime
