#pragma once
// The HTTP/1.1 server every service runs: one event loop per thread (each with its own
// listening socket on the same port, SO_REUSEPORT, so the kernel spreads connections over the
// loops), keep-alive, header and body limits, read and idle timeouts, and a drain that lets
// in-flight requests finish. A handler answers through `Respond`, from its loop (an async
// handler that must never block) or from the blocking pool (RunBlocking) — so a slow store
// call never stalls a loop, /health/live or the streams. Boost.Beast and Asio stay inside
// server.cpp.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace count::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 0;              // 0: any free port; Start() returns the bound one
  int threads = 2;           // event loops, one thread each (one per core)
  int blocking_threads = 8;  // the pool that runs blocking handlers
  std::size_t header_limit = 16 * 1024;
  std::chrono::milliseconds idle_timeout{60'000};  // waiting for the next request
  std::chrono::milliseconds read_timeout{10'000};  // reading one request's header and body
};

class Server {
 public:
  using BodyLimitFn = std::function<std::size_t(Method, std::string_view path)>;
  // Runs on the blocking pool.
  using HandleFn = std::function<Response(Request&)>;
  // Runs on the connection's loop and must not block: answers through Respond (which may be
  // called later, from any thread), handing blocking work to RunBlocking. `request` lives
  // until then.
  using AsyncHandleFn = std::function<void(Request&, Respond)>;

  Server(ServerOptions options, BodyLimitFn body_limit, HandleFn handle);
  Server(ServerOptions options, BodyLimitFn body_limit, AsyncHandleFn handle);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the threads; returns the bound port. Throws on bind failure.
  int Start();
  // From now on every response closes its connection and every stream ends (after its
  // drain chunk); the server keeps answering.
  void BeginDrain();
  // Waits until no request is being handled, up to `timeout`; true when idle.
  bool WaitIdle(std::chrono::milliseconds timeout);
  // Closes the listener and every connection, joins the threads.
  void Stop();

  // Runs `work` on the blocking pool (from Start until Stop).
  void RunBlocking(std::function<void()> work);

  std::size_t InFlight() const;
  std::size_t OpenConnections() const;

  struct State;  // defined in server.cpp, with everything Beast and Asio need

 private:
  std::shared_ptr<State> state_;
};

// What a connection's bytes amount to, read exactly as a Server reads them (the same
// parser settings, limits and checks): the complete requests in order and, when the server
// would answer one itself and close (400, 413, 431), that answer. For tests and fuzzing.
struct ReadOutcome {
  std::vector<Request> requests;
  std::optional<core::Problem> rejected;
};
// `pieces` arrive one read each, then the client closes; reading stops after a request that
// does not keep the connection alive. No handler runs.
ReadOutcome ReadRequests(std::span<const std::string_view> pieces, const ServerOptions& options,
                         const Server::BodyLimitFn& body_limit);

}  // namespace count::http
