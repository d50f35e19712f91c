#include "redis/lua_script.hpp"

#include <stdexcept>

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

Reply LuaScript::Run(RedisClient& client, const std::vector<std::string>& keys,
                     const std::vector<std::string>& args) {
  std::string sha;
  {
    std::lock_guard lock(mu_);
    sha = sha_;
  }
  if (sha.empty()) {
    Reply loaded = client.Command({"SCRIPT", "LOAD", body_});
    if (loaded.IsError()) throw core::StoreUnavailable("redis: " + loaded.str);
    sha = loaded.str;
    std::lock_guard lock(mu_);
    sha_ = sha;
  }
  auto command = [&](std::string verb, const std::string& script_or_sha) {
    std::vector<std::string> c{std::move(verb), script_or_sha, std::to_string(keys.size())};
    c.insert(c.end(), keys.begin(), keys.end());
    c.insert(c.end(), args.begin(), args.end());
    return c;
  };
  Reply r = client.Command(command("EVALSHA", sha));
  if (r.IsError() && r.str.starts_with("NOSCRIPT")) r = client.Command(command("EVAL", body_));
  if (r.IsError()) throw core::StoreUnavailable("redis: " + r.str);
  return r;
}

}  // namespace count::redis
