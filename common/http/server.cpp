#include "http/server.hpp"

#include <sys/socket.h>

#include <fmt/compile.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "http/event_loop.hpp"

namespace count::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kFirstRead = 4096;  // bytes read while waiting for a request

thread_local asio::io_context* t_loop = nullptr;

// One event loop: its context, run by one thread, and its own listening socket.
struct Loop {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
};

struct Server::State {
  ServerOptions options;
  BodyLimitFn body_limit;
  AsyncHandleFn handle;
  // Declared before the loops: sessions still pending when they are destroyed unwind
  // then, and their clean-up uses these.
  std::atomic<bool> draining{false};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<std::size_t> connections{0};
  std::atomic<std::uint64_t> next_request{0};
  std::uint64_t id_prefix = std::random_device{}();
  std::mutex mu;
  std::condition_variable idle;
  std::set<std::shared_ptr<Stream>> streams;  // guarded by mu; closed by BeginDrain
  std::vector<std::unique_ptr<Loop>> loops;
  // After the loops, so it goes first: a blocking handler refers to its session's request.
  std::optional<asio::thread_pool> blocking;

  std::string NextRequestId() {
    std::string id;
    id.reserve(20);
    fmt::format_to(std::back_inserter(id), FMT_COMPILE("{:08x}{:012x}"),
                   static_cast<std::uint32_t>(id_prefix), next_request.fetch_add(1));
    return id;
  }
  void RequestDone() {
    if (in_flight.fetch_sub(1) == 1) {
      std::lock_guard lock(mu);
      idle.notify_all();
    }
  }
};

asio::io_context* ThisLoop() { return t_loop; }

namespace {

Method ToMethod(bhttp::verb v) {
  switch (v) {
    case bhttp::verb::get:
      return Method::kGet;
    case bhttp::verb::head:
      return Method::kHead;
    case bhttp::verb::post:
      return Method::kPost;
    case bhttp::verb::put:
      return Method::kPut;
    case bhttp::verb::patch:
      return Method::kPatch;
    case bhttp::verb::delete_:
      return Method::kDelete;
    case bhttp::verb::options:
      return Method::kOptions;
    default:
      return Method::kOther;
  }
}

bhttp::response<bhttp::string_body> ToBeast(Response&& r, unsigned version, bool head_only) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
  if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.insert(k, v);
  const auto size = r.body.size();
  if (!head_only) res.body() = std::move(r.body);
  res.prepare_payload();
  if (head_only) res.content_length(size);
  return res;
}

// Whether the server itself must answer before the request reaches a handler.
std::optional<core::Problem> ReadFailure(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit)
    return core::HeadersTooLarge("the request header exceeds the limit");
  if (ec == bhttp::error::body_limit)
    return core::PayloadTooLarge("the request body exceeds the limit of this endpoint");
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
    return core::BadRequest("the request is not valid HTTP/1.1");
  return std::nullopt;
}

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// A parser for one request. No body limit while the header is read: Beast's default
// (1 MiB) would refuse a larger Content-Length before the route's own limit is known.
void PrepareParser(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<std::uint32_t>(options.header_limit));
  parser.body_limit(boost::none);
}

// Once the header is read: the request line into `req`, the target checked and the route's
// body limit applied. A problem is the server's answer, after which it closes.
std::optional<core::Problem> AcceptHeader(RequestParser& parser,
                                          const Server::BodyLimitFn& body_limit, Request& req) {
  const auto& head = parser.get();
  req.method = ToMethod(head.method());
  req.target = std::string(head.target());
  if (!ParseTarget(req.target, req.path, req.query))
    return core::BadRequest("the request target is not a valid path");
  const std::size_t limit = body_limit(req.method, req.path);
  if (parser.content_length() && *parser.content_length() > limit)
    return core::PayloadTooLarge("the request body exceeds " + std::to_string(limit) + " bytes");
  parser.body_limit(limit);
  return std::nullopt;
}

// Once the body is read: header fields and body into `req`.
void AcceptBody(bhttp::request<bhttp::string_body>& message, Request& req) {
  req.headers.reserve(16);
  for (const auto& field : message) req.headers.emplace_back(field.name_string(), field.value());
  req.body = std::move(message.body());
}

// Answers `p` and closes. The client may still be sending the request (a body over the
// limit): closing a socket with unread data makes the kernel reset the connection, and the
// reset can destroy the answer before the client reads it — a proxy that streams the body
// (Traefik) then answers 502 instead of 413. So what still arrives is read and dropped
// first, for a bounded time and amount (nginx's "lingering close").
asio::awaitable<void> Reject(beast::tcp_stream& stream, const core::Problem& p) {
  constexpr std::size_t kLingerBytes = 8 << 20;
  constexpr auto kLingerTime = std::chrono::seconds(2);
  auto res = ToBeast(Response::Problem(p), 11, false);
  res.keep_alive(false);
  stream.expires_after(kLingerTime);
  if (auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple); ec) co_return;
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  std::array<char, 16 * 1024> sink;
  for (std::size_t dropped = 0; dropped < kLingerBytes;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    dropped += n;
  }
}

// Writes a streamed response: the header, then chunks as the producer queues them, a
// keep-alive chunk when it is quiet, until the stream closes or the client goes away. The
// end of the body is the end of the connection (no length is known in advance).
asio::awaitable<void> WriteStream(Server::State* s, beast::tcp_stream& stream, Response& r,
                                  unsigned version) {
  auto body = r.stream;
  {
    std::lock_guard lock(s->mu);
    s->streams.insert(body);
  }
  struct Ended {
    Server::State* s;
    std::shared_ptr<Stream> body;
    ~Ended() {
      {
        std::lock_guard lock(s->mu);
        s->streams.erase(body);
      }
      body->End();
    }
  } ended{s, body};

  bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(r.status), version};
  res.set(bhttp::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers) res.insert(k, v);
  res.keep_alive(false);
  bhttp::response_serializer<bhttp::empty_body> header{res};
  stream.expires_after(s->options.read_timeout);
  if (auto [ec, n] = co_await bhttp::async_write_header(stream, header, kTuple); ec) co_return;

  // A wake-up is posted to this session's loop (one thread), so it cannot slip in between the Take
  // below and the start of the wait: it cancels the wait (or finds none and the loop
  // takes the chunk next).
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  body->SetWaker([timer] { asio::post(timer->get_executor(), [timer] { timer->cancel(); }); });
  if (s->draining.load()) body->Close(body->options().drain_chunk);
  for (;;) {
    bool closed = false;
    std::string chunk = body->Take(closed);
    if (chunk.empty() && !closed) {
      timer->expires_after(body->options().keepalive);
      auto [tec] = co_await timer->async_wait(kTuple);
      if (tec) continue;  // woken: something was queued
      chunk = body->options().keepalive_chunk;
    }
    if (!chunk.empty()) {
      stream.expires_after(s->options.read_timeout);
      if (auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(chunk), kTuple); wec)
        co_return;
    }
    if (closed) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Hands the request to the handler and waits, without blocking the loop, for its answer
// (given on this loop or on any thread; it resumes the session on its own loop).
asio::awaitable<Response> Handle(Server::State* s, Request& req) {
  co_return co_await asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
      [s, &req](auto handler) {
        const auto executor = asio::get_associated_executor(handler);
        auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
        s->handle(req, [waiting, executor](Response r) {
          asio::post(executor,
                     [waiting, r = std::move(r)]() mutable { std::move (*waiting)(std::move(r)); });
        });
      },
      asio::use_awaitable);
}

asio::awaitable<void> Session(Server::State* s, tcp::socket socket) {
  s->connections.fetch_add(1);
  struct Closed {
    Server::State* s;
    ~Closed() { s->connections.fetch_sub(1); }
  } closed{s};

  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  beast::error_code ec;
  const auto endpoint = stream.socket().remote_endpoint(ec);
  const std::string remote = ec ? "" : endpoint.address().to_string();

  for (;;) {
    RequestParser parser;
    PrepareParser(parser, s->options);
    if (buffer.size() == 0) {
      // Waiting for a request may take the idle timeout; once its first bytes are here, the
      // whole header must follow within the read timeout, so a client trickling a header
      // byte by byte (slowloris) is closed after that, not after the idle timeout.
      stream.expires_after(s->options.idle_timeout);
      auto [iec, in] = co_await stream.async_read_some(buffer.prepare(kFirstRead), kTuple);
      if (iec) co_return;
      buffer.commit(in);
    }
    stream.expires_after(s->options.read_timeout);
    auto [rec, rn] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
    if (rec) {
      if (auto p = ReadFailure(rec)) co_await Reject(stream, *p);
      co_return;
    }

    Request req;
    req.remote = remote;
    if (auto p = AcceptHeader(parser, s->body_limit, req)) {
      co_await Reject(stream, *p);
      co_return;
    }
    stream.expires_after(s->options.read_timeout);
    auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    if (bec) {
      if (auto p = ReadFailure(bec)) co_await Reject(stream, *p);
      co_return;
    }

    auto message = parser.release();
    AcceptBody(message, req);
    if (auto rid = req.Header("X-Request-Id"); rid && !rid->empty() && rid->size() <= 64)
      req.request_id = std::string(*rid);
    else
      req.request_id = s->NextRequestId();

    s->in_flight.fetch_add(1);
    Response response = co_await Handle(s, req);
    response.headers.emplace_back("X-Request-Id", req.request_id);
    if (response.stream) {
      co_await WriteStream(s, stream, response, message.version());
      s->RequestDone();
      co_return;
    }
    const bool keep_alive = message.keep_alive() && !s->draining.load();
    auto res = ToBeast(std::move(response), message.version(), req.method == Method::kHead);
    res.keep_alive(keep_alive);
    stream.expires_after(s->options.read_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, kTuple);
    s->RequestDone();
    if (wec) co_return;
    if (!keep_alive) {
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

asio::awaitable<void> Accept(Server::State* s, Loop& loop) {
  for (;;) {
    auto [ec, socket] = co_await loop.acceptor.async_accept(kTuple);
    if (!loop.acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or a connection reset before accept: keep listening.
      asio::steady_timer t(loop.ioc, std::chrono::milliseconds(10));
      co_await t.async_wait(kTuple);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto executor = socket.get_executor();
    asio::co_spawn(executor, Session(s, std::move(socket)), asio::detached);
  }
}

}  // namespace

Server::Server(ServerOptions options, BodyLimitFn body_limit, AsyncHandleFn handle)
    : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  state_->body_limit = std::move(body_limit);
  state_->handle = std::move(handle);
}

Server::Server(ServerOptions options, BodyLimitFn body_limit, HandleFn handle)
    : Server(std::move(options), std::move(body_limit),
             AsyncHandleFn([this, handle = std::move(handle)](Request& r, Respond respond) {
               RunBlocking([&r, &handle, respond = std::move(respond)] { respond(handle(r)); });
             })) {}

Server::~Server() { Stop(); }

int Server::Start() {
  auto& s = *state_;
  tcp::endpoint endpoint{asio::ip::make_address(s.options.host),
                         static_cast<unsigned short>(s.options.port)};
  // Every loop listens on the same port (SO_REUSEPORT): the kernel spreads new connections
  // over the loops evenly, and a connection stays on the loop that accepted it.
  using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  for (int i = 0; i < std::max(1, s.options.threads); ++i) {
    auto loop = std::make_unique<Loop>();
    loop->acceptor.open(endpoint.protocol());
    loop->acceptor.set_option(asio::socket_base::reuse_address(true));
    loop->acceptor.set_option(ReusePort(true));
    loop->acceptor.bind(endpoint);
    loop->acceptor.listen(asio::socket_base::max_listen_connections);
    endpoint.port(loop->acceptor.local_endpoint().port());  // port 0: the others join it
    s.loops.push_back(std::move(loop));
  }
  s.blocking.emplace(static_cast<std::size_t>(std::max(1, s.options.blocking_threads)));
  for (auto& loop : s.loops) {
    asio::co_spawn(loop->ioc, Accept(&s, *loop), asio::detached);
    loop->thread = std::thread([l = loop.get()] {
      t_loop = &l->ioc;
      l->ioc.run();
    });
  }
  return endpoint.port();
}

void Server::RunBlocking(std::function<void()> work) {
  asio::post(*state_->blocking, std::move(work));
}

void Server::BeginDrain() {
  state_->draining.store(true);
  std::set<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(state_->mu);
    streams = state_->streams;
  }
  for (const auto& stream : streams) stream->Close(stream->options().drain_chunk);
}

bool Server::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  return state_->idle.wait_for(lock, timeout, [&] { return state_->in_flight.load() == 0; });
}

void Server::Stop() {
  auto& s = *state_;
  if (!s.blocking) return;
  for (auto& loop : s.loops) loop->ioc.stop();
  for (auto& loop : s.loops) loop->thread.join();
  // Handlers still running finish (their answers are dropped with the loops); queued ones
  // never start.
  s.blocking->stop();
  s.blocking->join();
  s.blocking.reset();
  beast::error_code ec;
  for (auto& loop : s.loops) loop->acceptor.close(ec);
}

std::size_t Server::InFlight() const { return state_->in_flight.load(); }
std::size_t Server::OpenConnections() const { return state_->connections.load(); }

namespace {

// A connection's bytes from memory, one piece per read, then the end of the stream.
class PiecesStream {
 public:
  explicit PiecesStream(std::span<const std::string_view> pieces) : pieces_(pieces) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    ec = {};
    while (next_ < pieces_.size() && offset_ == pieces_[next_].size()) ++next_, offset_ = 0;
    if (next_ == pieces_.size()) {
      ec = asio::error::eof;
      return 0;
    }
    const auto piece = pieces_[next_].substr(offset_);
    const std::size_t n = asio::buffer_copy(buffers, asio::buffer(piece.data(), piece.size()));
    offset_ += n;
    return n;
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) throw beast::system_error(ec);
    return n;
  }

 private:
  std::span<const std::string_view> pieces_;
  std::size_t next_ = 0, offset_ = 0;
};

}  // namespace

ReadOutcome ReadRequests(std::span<const std::string_view> pieces, const ServerOptions& options,
                         const Server::BodyLimitFn& body_limit) {
  ReadOutcome out;
  PiecesStream stream(pieces);
  beast::flat_buffer buffer;
  for (;;) {
    RequestParser parser;
    PrepareParser(parser, options);
    beast::error_code ec;
    bhttp::read_header(stream, buffer, parser, ec);
    if (ec) {
      out.rejected = ReadFailure(ec);
      return out;
    }
    Request req;
    if ((out.rejected = AcceptHeader(parser, body_limit, req))) return out;
    bhttp::read(stream, buffer, parser, ec);
    if (ec) {
      out.rejected = ReadFailure(ec);
      return out;
    }
    auto message = parser.release();
    AcceptBody(message, req);
    out.requests.push_back(std::move(req));
    if (!message.keep_alive()) return out;
  }
}

}  // namespace count::http
