#pragma once
// The live-updates API (SPEC §4, port 3005): the Server-Sent Events stream and the
// short-lived tokens a page uses to open it without putting an API key in a URL.
#include <chrono>

#include "core/dashboard.hpp"
#include "http/router.hpp"
#include "live_hub.hpp"
#include "runtime/auth.hpp"

namespace count::live {

class LiveApi {
 public:
  LiveApi(LiveHub& hub, core::DashboardStore& dashboards, const runtime::ApiKeys& keys,
          const runtime::StreamTokens& tokens, std::chrono::seconds token_ttl)
      : hub_(hub), dashboards_(dashboards), keys_(keys), tokens_(tokens), token_ttl_(token_ttl) {}

  void Register(http::Router& router);

 private:
  http::Response Events(http::Request& request);
  http::Response IssueToken(http::Request& request);
  // An admin API key in the Authorization header, or a valid `?token=`.
  bool Authorized(const http::Request& request) const;

  LiveHub& hub_;
  core::DashboardStore& dashboards_;
  const runtime::ApiKeys& keys_;
  const runtime::StreamTokens& tokens_;
  const std::chrono::seconds token_ttl_;
};

}  // namespace count::live
