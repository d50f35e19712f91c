// Raw bytes of a connection → the server's own request reading (http::ReadRequests: the
// same Beast parser settings, header and body limits, target checks) → the services'
// router over in-memory stores, as a connection would be served.
//
// Input: the first byte sets the size of the pieces the bytes arrive in (0: all at once);
// the rest is what the client sends. Invariants: reading in pieces and at once agree (but
// for a 400 that, in pieces, waits for a header end that never comes);
// every request has a path starting with '/', no NUL, a body within its route's limit;
// the server's own refusals are 400, 413 or 431; every answer keeps CheckResponse.
#include <cstddef>
#include <cstdint>

#include "harness/api_harness.hpp"
#include "http/problem_types.hpp"
#include "http/server.hpp"

namespace count::fuzz {
namespace {

bool SameRequest(const http::Request& a, const http::Request& b) {
  return a.method == b.method && a.target == b.target && a.path == b.path && a.query == b.query &&
         a.headers == b.headers && a.body == b.body;
}

}  // namespace
}  // namespace count::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace count;
  if (size < 1) return 0;
  const std::size_t piece = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  fuzz::ApiHarness api;
  const http::ServerOptions options;  // the limits every service runs with
  const auto limit = [&](http::Method m, std::string_view path) {
    return api.router().BodyLimit(m, path);
  };

  const std::string_view whole[] = {bytes};
  const auto once = http::ReadRequests(whole, options, limit);
  std::vector<std::string_view> pieces;
  for (std::size_t at = 0; piece > 0 && at < bytes.size(); at += piece)
    pieces.push_back(bytes.substr(at, piece));
  if (!pieces.empty()) {
    const auto split = http::ReadRequests(pieces, options, limit);
    // Beast checks a header read in pieces only once its end has arrived, so a malformed one
    // may get 400 at once and, in pieces, wait for the rest (here: the client leaves).
    const auto status = [](const http::ReadOutcome& o) {
      return o.rejected ? http::StatusOf(*o.rejected) : 0;
    };
    bool same = split.requests.size() == once.requests.size() &&
                (status(split) == status(once) || status(split) + status(once) == 400);
    for (std::size_t i = 0; same && i < once.requests.size(); ++i)
      same = fuzz::SameRequest(split.requests[i], once.requests[i]);
    const auto describe = [](const http::ReadOutcome& o) {
      return std::to_string(o.requests.size()) + " requests, refused " +
             (o.rejected ? std::to_string(http::StatusOf(*o.rejected)) + " " + o.rejected->detail
                         : "-");
    };
    if (!same)
      fuzz::Fail("reading in pieces differs from reading at once",
                 "at once: " + describe(once) + "; in pieces: " + describe(split));
  }

  if (once.rejected && http::StatusOf(*once.rejected) != 400 &&
      http::StatusOf(*once.rejected) != 413 && http::StatusOf(*once.rejected) != 431)
    fuzz::Fail("the server refuses with " + std::to_string(http::StatusOf(*once.rejected)), bytes);
  for (auto request : once.requests) {
    if (request.path.empty() || request.path.front() != '/' ||
        request.path.find('\0') != std::string::npos)
      fuzz::Fail("a request path that ParseTarget should refuse", request.path);
    if (request.body.size() > limit(request.method, request.path))
      fuzz::Fail("a body beyond its route's limit", request.target);
    api.Handle(request);
  }
  return 0;
}
