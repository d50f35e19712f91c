#pragma once
// The live-updates API (docs/API.md, "Live updates"; port 3005): the Server-Sent Events
// stream and the short-lived tokens a page uses to open it without putting an API key in a URL.
#include <chrono>
#include <optional>

#include "core/dashboard.hpp"
#include "core/problem.hpp"
#include "http/router.hpp"
#include "live_hub.hpp"
#include "runtime/auth.hpp"
#include "runtime/config.hpp"
#include "runtime/service.hpp"

namespace count::live {

// SSE_MAX_SUBSCRIBERS, SSE_REPLAY_EVENTS, SSE_CLIENT_QUEUE_KB, SSE_HEARTBEAT_SECONDS,
// SSE_RETRY_MS, SSE_SUMMARY_INTERVAL_MS. Throws ConfigError.
HubOptions HubOptionsFromEnv(const runtime::Env& env);

class LiveApi {
 public:
  // Tokens are signed with STREAM_TOKEN_SECRET (replicas must share it; a random one
  // per process when unset) and live STREAM_TOKEN_TTL_SECONDS. Throws ConfigError.
  LiveApi(LiveHub& hub, core::DashboardStore& dashboards, runtime::Service& service);

  // Routes, and the sse_clients and sse_clients_dropped_total metrics.
  void Register(http::Router& router, runtime::Metrics& metrics);

 private:
  http::Response Events(http::Request& request);
  http::Response IssueToken(http::Request& request);
  // Nothing when the request has an admin API key in the Authorization header or a valid
  // `?token=`; else the 401 or 403 to answer.
  std::optional<core::Problem> Authorize(const http::Request& request) const;

  LiveHub& hub_;
  core::DashboardStore& dashboards_;
  const runtime::ApiKeys& keys_;
  const runtime::StreamTokens tokens_;
  const std::chrono::seconds token_ttl_;
};

}  // namespace count::live
