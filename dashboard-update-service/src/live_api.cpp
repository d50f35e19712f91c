#include "live_api.hpp"

#include <boost/json/serialize.hpp>

#include "api/count_json.hpp"

namespace count::live {
namespace {

using http::Request;
using http::Response;

constexpr std::size_t kMaxCountIds = 100;

std::string TokenSecret(const runtime::Env& env) {
  if (auto secret = env.Get("STREAM_TOKEN_SECRET")) {
    if (secret->size() < 32)
      throw runtime::ConfigError("setting STREAM_TOKEN_SECRET: use at least 32 characters");
    return *secret;
  }
  return runtime::RandomHex(32);
}

}  // namespace

HubOptions HubOptionsFromEnv(const runtime::Env& env) {
  using std::chrono::milliseconds, std::chrono::seconds;
  return {.max_subscribers = std::size_t(env.Int("SSE_MAX_SUBSCRIBERS", 10'000, 1, 1'000'000)),
          .replay_events = std::size_t(env.Int("SSE_REPLAY_EVENTS", 10'000, 0, 10'000'000)),
          .client_queue_bytes = std::size_t(env.Int("SSE_CLIENT_QUEUE_KB", 256, 4, 65'536)) * 1024,
          .heartbeat = seconds(env.Int("SSE_HEARTBEAT_SECONDS", 15, 1, 3600)),
          .retry = milliseconds(env.Int("SSE_RETRY_MS", 2000, 100, 600'000)),
          .summary_interval = milliseconds(env.Int("SSE_SUMMARY_INTERVAL_MS", 1000, 100, 600'000))};
}

LiveApi::LiveApi(LiveHub& hub, core::DashboardStore& dashboards, runtime::Service& service)
    : hub_(hub),
      dashboards_(dashboards),
      keys_(service.api_keys()),
      tokens_(TokenSecret(service.env())),
      token_ttl_(service.env().Int("STREAM_TOKEN_TTL_SECONDS", 300, 10, 86'400)) {}

void LiveApi::Register(http::Router& router, runtime::Metrics& metrics) {
  metrics.AddGauge("sse_clients", "Live-update streams open now.",
                   [this] { return double(hub_.Subscribers()); });
  metrics.AddCounter("sse_clients_dropped_total", "Live-update clients dropped for not keeping up.",
                     [this] { return double(hub_.Dropped()); });
  // No route scope: the handler accepts a stream token as well as an admin key.
  router.Add(http::Method::kGet, "/dashboard/events", [this](Request& r) { return Events(r); });
  router.Add(http::Method::kPost, "/dashboard/events/tokens",
             [this](Request& r) { return IssueToken(r); },
             {.scope = std::string(runtime::kScopeAdmin)});
}

std::optional<core::Problem> LiveApi::Authorize(const Request& request) const {
  if (auto token = request.Query("token")) {
    if (tokens_.Valid(*token, std::chrono::system_clock::now())) return std::nullopt;
    return core::Unauthorized(
        "the stream token is invalid or expired; get a new one from POST "
        "/dashboard/events/tokens");
  }
  constexpr std::string_view kBearer = "Bearer ";
  const auto auth = request.Header("Authorization");
  const auto principal =
      auth && auth->size() > kBearer.size() && http::IEquals(auth->substr(0, 7), kBearer)
          ? keys_.Authenticate(auth->substr(kBearer.size()))
          : nullptr;
  if (!principal)
    return core::Unauthorized(
        "an admin API key (Authorization: Bearer <key>) or a stream token (?token=, from POST "
        "/dashboard/events/tokens) is required");
  if (!principal->Has(runtime::kScopeAdmin))
    return core::Forbidden("live updates need the admin scope");
  return std::nullopt;
}

Response LiveApi::Events(Request& request) {
  if (auto denied = Authorize(request)) return Response::Problem(*denied);

  std::vector<std::string> ids;
  const auto count_ids = request.Query("countIds");
  const auto dashboard_id = request.Query("dashboardId");
  const auto summary = request.Query("summary").value_or("false");
  if (summary != "true" && summary != "false")
    return Response::Problem(core::Validation("summary must be true or false"));
  if (count_ids && dashboard_id)
    return Response::Problem(
        core::Validation("give either ?countIds=a,b or ?dashboardId=X (not both)"));
  if (!count_ids && !dashboard_id && summary != "true")
    return Response::Problem(core::Validation(
        "give ?countIds=a,b, ?dashboardId=X or ?summary=true (with either of the others, or "
        "alone)"));
  if (count_ids) {
    if (auto p = api::ParseIdList(*count_ids, "countIds", kMaxCountIds, ids))
      return Response::Problem(*p);
  } else if (dashboard_id) {
    const auto dashboard = dashboards_.Get(*dashboard_id);
    if (!dashboard)
      return Response::Problem(
          core::NotFound("dashboard '" + std::string(*dashboard_id) + "' does not exist"));
    ids = core::CountIdsOf(*dashboard);
  }

  auto stream = hub_.Subscribe(std::move(ids), request.Header("Last-Event-ID"), summary == "true");
  if (!stream) {
    auto r = Response::Problem(
        core::Unavailable("this instance serves as many live clients as it may; retry shortly"));
    r.headers.emplace_back("Retry-After", "2");
    return r;
  }
  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Accel-Buffering", "no");  // a buffering proxy would hold events
  r.stream = std::move(stream);
  return r;
}

Response LiveApi::IssueToken(Request&) {
  const auto expires = std::chrono::system_clock::now() + token_ttl_;
  const core::Timestamp at = std::chrono::time_point_cast<std::chrono::milliseconds>(expires);
  return Response::Json(
      201, boost::json::serialize(boost::json::object{{"token", tokens_.Issue(expires)},
                                                      {"expiresAt", core::FormatTimestamp(at)}}));
}

}  // namespace count::live
