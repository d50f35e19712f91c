#pragma once
// HTTP messages as the handlers see them: plain structs, no Beast headers, so only the
// server's translation unit pays for Boost.Beast.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/problem.hpp"
#include "core/trace.hpp"

namespace count::http {

enum class Method { kGet, kHead, kPost, kPut, kPatch, kDelete, kOptions, kOther };
std::string_view ToString(Method m);

using Fields = std::vector<std::pair<std::string, std::string>>;

bool IEquals(std::string_view a, std::string_view b);
// Whether `a` and `b` are equal, in a time that depends on their lengths only.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

struct Principal {
  std::string name;
  std::vector<std::string> scopes;
  bool Has(std::string_view scope) const;  // admin implies every scope
};

// The API key a connection's last request proved, and its principal: kept by the server per
// connection, so the requests after the first one that present the same key skip hashing it.
struct KnownKey {
  std::string token;
  const Principal* principal = nullptr;
};

struct Request {
  Method method = Method::kGet;
  std::string target;  // as received: path and query
  std::string path;    // percent-decoded
  Fields query;        // percent-decoded, in order
  Fields headers;
  std::string body;
  std::string request_id;
  std::string remote;
  // This server's span of the request's trace (its `traceparent`, or a new trace): set by
  // the host before dispatch, logged with the request, passed to the events it causes.
  core::TraceContext trace;
  // The connection's known key (the server's), or null: a request on its own.
  KnownKey* known_key = nullptr;

  // Filled by the router.
  Fields params;
  // The matched pattern (owned by the router, which outlives requests), for metrics and logs.
  std::string_view route;
  // The key's principal (owned by the authenticator, which outlives requests), or null.
  const Principal* principal = nullptr;
  std::string error;  // what went wrong inside, for the log only

  std::optional<std::string_view> Header(std::string_view name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
  std::string_view Param(std::string_view name) const;
};

// A response body written while it is produced (Server-Sent Events). A producer pushes
// chunks from any thread; the server writes them in order, writes `keepalive_chunk` when
// nothing came for `keepalive`, and ends the response when the stream is closed, when the
// client is gone, or when the server drains (after `drain_chunk`).
class Stream {
 public:
  struct Options {
    std::size_t max_queued_bytes = 256 * 1024;  // waiting to be written; beyond, Push refuses
    std::chrono::milliseconds keepalive{15'000};
    std::string keepalive_chunk = ":\n\n";
    std::string drain_chunk;
  };
  explicit Stream(Options options) : options_(std::move(options)) {}

  // Queues a chunk; false, queuing nothing, when the stream is closed or the client has
  // not taken what is queued (a slow client: the producer decides, usually Close).
  bool Push(std::string_view chunk);
  // Ends the stream after what is queued and `last` (queued even beyond the limit).
  void Close(std::string_view last = {});
  bool Closed() const;
  // Runs once, when the response has ended for any reason.
  void OnEnd(std::function<void()> on_end);
  const Options& options() const { return options_; }

  // For the server: `waker` is called (from any thread) when chunks are queued or the
  // stream is closed; Take moves out what is queued and says whether more may come.
  void SetWaker(std::function<void()> waker);
  std::string Take(bool& closed);
  void End();

 private:
  void Wake(std::unique_lock<std::mutex>& lock);

  const Options options_;
  mutable std::mutex mu_;
  std::string queued_;
  bool closed_ = false;
  bool ended_ = false;
  std::function<void()> waker_, on_end_;
};

struct Response;
// Answers a request: called exactly once, from any thread; the server goes on with the
// connection on that connection's own event loop.
using Respond = std::function<void(Response)>;
// Runs blocking work away from the event loops (the server's blocking pool).
using RunBlocking = std::function<void(std::function<void()>)>;

struct Response {
  int status = 200;
  // Text that outlives the answer: a literal, or a static site's entry (it lives as long
  // as the server). A view, so no answer allocates its media type.
  std::string_view content_type = "application/json";
  std::string body;
  Fields headers;
  std::shared_ptr<Stream> stream;  // set: `body` is ignored and the stream is the body

  static Response Json(int status, std::string body);
  static Response Problem(const core::Problem& p);
  static Response NoContent();
};

// `text` with each byte that starts no valid UTF-8 sequence replaced by U+FFFD: what a
// JSON answer may quote of a request (JSON text is UTF-8; RFC 8259 §8.1).
std::string ValidUtf8(std::string_view text);

// Splits "path?query" and percent-decodes both; false on malformed escapes or a NUL.
bool ParseTarget(std::string_view target, std::string& path, Fields& query);

}  // namespace count::http
