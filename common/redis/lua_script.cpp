#include "redis/lua_script.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include "core/hex.hpp"
#include "core/ports.hpp"

namespace count::redis {
namespace {

std::string_view ScriptFile(std::string_view name) {
  for (const auto& f : detail::EmbeddedScripts())
    if (f.path == name) return f.content;
  throw std::logic_error("no embedded Lua script " + std::string(name));
}

}  // namespace

LuaScript LuaScript::Embedded(std::string_view name) {
  // The shebang makes Redis refuse a write script on a replica up front (READONLY).
  return LuaScript("#!lua\n" + std::string(ScriptFile("prelude.lua")) +
                   std::string(ScriptFile(name)));
}

LuaScript::LuaScript(std::string body) : body_(std::move(body)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(body_.data()), body_.size(), digest);
  sha_ = core::ToHex(std::span<const unsigned char>(digest, sizeof digest));
}

std::vector<std::string> LuaScript::Command(std::vector<std::string> keys,
                                            std::vector<std::string> args, bool whole) const {
  std::vector<std::string> c;
  c.reserve(3 + keys.size() + args.size());
  c.emplace_back(whole ? "EVAL" : "EVALSHA");
  c.push_back(whole ? body_ : sha_);
  c.push_back(std::to_string(keys.size()));
  std::ranges::move(keys, std::back_inserter(c));
  std::ranges::move(args, std::back_inserter(c));
  return c;
}

Reply LuaScript::Run(RedisClient& client, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) const {
  Reply r = client.Command(Command(keys, args, false));
  if (NoScript(r)) r = client.Command(Command(keys, args, true));
  if (r.IsError()) throw core::StoreUnavailable("redis: " + r.str);
  return r;
}

}  // namespace count::redis
