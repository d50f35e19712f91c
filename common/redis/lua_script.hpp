#pragma once
// A server-side Lua script run with EVALSHA (its SHA-1 digest, computed here), re-sent whole
// with EVAL when the server does not hold it (first use, restart, failover).
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "redis/redis_client.hpp"

namespace count::redis {

class LuaScript {
 public:
  explicit LuaScript(std::string body);
  // scripts/<name> as the build embedded it, after scripts/prelude.lua (the helpers every
  // script shares). Throws std::logic_error for a name the build did not embed.
  static LuaScript Embedded(std::string_view name);

  // Error replies throw core::StoreUnavailable.
  Reply Run(RedisClient& client, const std::vector<std::string>& keys,
            const std::vector<std::string>& args) const;

  // For a client that sends commands itself (redis_connection.hpp): the command that runs
  // the script by its digest, or `whole` (after a NoScript reply). Pass the lists as rvalues
  // when done with them: their strings move into the command.
  std::vector<std::string> Command(std::vector<std::string> keys, std::vector<std::string> args,
                                   bool whole) const;
  // The server does not hold the script: send it whole.
  static bool NoScript(const Reply& reply) {
    return reply.IsError() && reply.str.starts_with("NOSCRIPT");
  }

 private:
  std::string body_;
  std::string sha_;  // what EVALSHA names it by
};

// The named arguments of an embedded script (prelude.lua's named_args): name, value, … and,
// after `Rest()`, positional lists.
class ScriptArgs {
 public:
  ScriptArgs& Set(std::string_view name, std::string value) {
    args_.emplace_back(name);
    args_.push_back(std::move(value));
    return *this;
  }
  ScriptArgs& Reserve(std::size_t n) {
    args_.reserve(n);
    return *this;
  }
  ScriptArgs& Rest() {
    args_.emplace_back("--");
    return *this;
  }
  ScriptArgs& Add(std::string value) {
    args_.push_back(std::move(value));
    return *this;
  }
  const std::vector<std::string>& values() const& { return args_; }
  std::vector<std::string> values() && { return std::move(args_); }

 private:
  std::vector<std::string> args_;
};

namespace detail {
struct EmbeddedScript {
  std::string_view path;  // relative to scripts/
  std::string_view content;
};
// Defined in the generated embedded_scripts.cpp.
std::span<const EmbeddedScript> EmbeddedScripts();
}  // namespace detail

}  // namespace count::redis
