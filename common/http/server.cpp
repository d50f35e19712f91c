#include "http/server.hpp"

#include <sys/socket.h>
#include <time.h>

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
#include <list>
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

thread_local asio::io_context* t_loop = nullptr;

struct Connection;

// One event loop: its context, run by one thread, its own listening socket, and its open
// connections, whose deadlines one timer sweeps (declared first: connections still open
// when the context is destroyed leave the list then).
struct Loop {
  std::list<Connection*> connections;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::thread thread;
};

// A client connection and the deadline of what it waits for. Setting a deadline is one
// store: the loop's sweep (Sweep below) closes connections past theirs, a few times per
// timeout. beast::tcp_stream instead arms and cancels a timer around every read and
// write, which cost a tenth of a GET's CPU (docs/BENCHMARKS.md).
// The clock of connection deadlines: CLOCK_MONOTONIC_COARSE, read from the vDSO without the
// TSC. Its resolution (a few ms) is far finer than any timeout here, and a request sets a
// deadline three times.
struct CoarseClock {
  using duration = std::chrono::nanoseconds;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::time_point<CoarseClock>;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
  }
};

struct Connection {
  using Clock = CoarseClock;
  Connection(Loop& loop, tcp::socket s) : loop(loop), socket(std::move(s)) {
    at = loop.connections.insert(loop.connections.end(), this);
  }
  ~Connection() { loop.connections.erase(at); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void ExpiresAfter(std::chrono::milliseconds d) { deadline = Clock::now() + d; }
  void NeverExpires() { deadline = Clock::time_point::max(); }

  Loop& loop;
  tcp::socket socket;
  Clock::time_point deadline = Clock::time_point::max();
  std::list<Connection*>::iterator at;
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

// The status line and header of an answer, appended to `out`; `content_length` unset for a
// streamed body (which ends with the connection). Beast's serializer sends a chain of
// buffer sequences that it walks through a variant per buffer, which cost more CPU than the
// send itself (docs/BENCHMARKS.md); written into one buffer, an answer goes out in one
// send of one buffer. Fields carrying CR or LF are dropped: they would split the header.
void AppendHead(std::string& out, const Response& r, unsigned version,
                std::optional<std::size_t> content_length, bool keep_alive) {
  const auto status = static_cast<bhttp::status>(r.status);
  const auto reason = bhttp::obsolete_reason(status);
  fmt::format_to(std::back_inserter(out), FMT_COMPILE("HTTP/{}.{} {} {}\r\n"), version / 10,
                 version % 10, r.status, std::string_view(reason.data(), reason.size()));
  const auto splits = [](std::string_view text) {  // two scans, not one per character
    return text.find('\r') != std::string_view::npos || text.find('\n') != std::string_view::npos;
  };
  const auto field = [&out, &splits](std::string_view name, std::string_view value) {
    if (splits(name) || splits(value)) return;
    out.append(name).append(": ").append(value).append("\r\n");
  };
  if (!r.content_type.empty()) field("Content-Type", r.content_type);
  for (const auto& [name, value] : r.headers) field(name, value);
  // No length for answers that never have a body (RFC 9110 §8.6).
  const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;
  if (content_length && !bodiless)
    fmt::format_to(std::back_inserter(out), FMT_COMPILE("Content-Length: {}\r\n"), *content_length);
  if (version >= 11 && !keep_alive) out.append("Connection: close\r\n");
  if (version < 11 && keep_alive) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
}

// A whole answer to `method`, appended to `out`.
void AppendResponse(std::string& out, const Response& r, unsigned version, bool keep_alive,
                    Method method) {
  AppendHead(out, r, version, r.body.size(), keep_alive);
  const bool bodiless = r.status < 200 || r.status == 204 || r.status == 304;
  if (method != Method::kHead && !bodiless) out.append(r.body);
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

// Beast's HTTP/1.1 parser, reading a request straight into a Request: the request line,
// each field and the body, with no container of Beast's own in between.
class RequestReader final : public bhttp::basic_parser<true> {
 public:
  // No body limit while the header is read: Beast's default (1 MiB) would refuse a larger
  // Content-Length before the route's own limit is known (AcceptHeader).
  RequestReader(Request& req, const ServerOptions& options) : req_(req) {
    header_limit(static_cast<std::uint32_t>(options.header_limit));
    body_limit(boost::none);
    req_.headers.reserve(8);  // one allocation for a usual request's fields, not one per doubling
  }
  unsigned version() const { return version_; }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view, beast::string_view target,
                       int version, beast::error_code&) override {
    req_.method = ToMethod(method);
    req_.target.assign(target.data(), target.size());
    version_ = static_cast<unsigned>(version);
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = bhttp::error::bad_method;  // never called: this parser reads requests
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    req_.headers.emplace_back(std::string(name.data(), name.size()),
                              std::string(value.data(), value.size()));
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length,
                         beast::error_code&) override {
    if (length) req_.body.reserve(static_cast<std::size_t>(*length));  // within the limit
  }
  std::size_t on_body_impl(beast::string_view piece, beast::error_code&) override {
    req_.body.append(piece.data(), piece.size());
    return piece.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view piece,
                                 beast::error_code&) override {
    req_.body.append(piece.data(), piece.size());
    return piece.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& req_;
  unsigned version_ = 11;
};

constexpr std::size_t kHeaderRead = 4096;  // bytes read at a time for a header
constexpr std::size_t kBodyRead = 16384;   // and for a body

// Parses what `buffer` holds, up to the end of the header (`whole` false) or of the
// request: no error once there, need_more when more must be read first. Most requests
// arrive whole in one read and are parsed with no further read.
beast::error_code Parse(RequestReader& parser, beast::flat_buffer& buffer, bool whole) {
  parser.eager(whole);
  for (;;) {
    if (whole ? parser.is_done() : parser.is_header_done()) return {};
    if (buffer.size() == 0) return bhttp::error::need_more;
    beast::error_code ec;
    const std::size_t n = parser.put(buffer.data(), ec);
    buffer.consume(n);
    if (ec) return ec;
    if (n == 0) return bhttp::error::need_more;
  }
}

// The error a request ends with when the client closes before it is complete.
beast::error_code AtEnd(RequestReader& parser) {
  if (!parser.got_some()) return bhttp::error::end_of_stream;
  beast::error_code ec;
  parser.put_eof(ec);
  return ec ? ec : beast::error_code(bhttp::error::partial_message);
}

// Reads until Parse is satisfied, all of it within the read timeout.
asio::awaitable<beast::error_code> Read(Server::State* s, Connection& c, beast::flat_buffer& buffer,
                                        RequestReader& parser, bool whole) {
  c.ExpiresAfter(s->options.read_timeout);
  for (;;) {
    auto ec = Parse(parser, buffer, whole);
    if (ec != bhttp::error::need_more) co_return ec;
    auto [rec, n] = co_await c.socket.async_read_some(
        buffer.prepare(parser.is_header_done() ? kBodyRead : kHeaderRead), kTuple);
    if (rec == asio::error::eof) co_return AtEnd(parser);
    if (rec) co_return rec;
    buffer.commit(n);
  }
}

// Once the header is read: the target checked and the route's body limit applied. A
// problem is the server's answer, after which it closes.
std::optional<core::Problem> AcceptHeader(RequestReader& parser,
                                          const Server::BodyLimitFn& body_limit, Request& req) {
  if (!ParseTarget(req.target, req.path, req.query))
    return core::BadRequest("the request target is not a valid path");
  // No Content-Length and not chunked: a request without a body (RFC 9112 §6.3), no limit to find.
  if (!parser.chunked() && parser.content_length().value_or(0) == 0) return std::nullopt;
  const std::size_t limit = body_limit(req.method, req.path);
  if (parser.content_length() && *parser.content_length() > limit)
    return core::PayloadTooLarge("the request body exceeds " + std::to_string(limit) + " bytes");
  parser.body_limit(limit);
  return std::nullopt;
}

// Writes `data`, within the read timeout.
asio::awaitable<bool> Write(Server::State* s, Connection& c, std::string_view data) {
  c.ExpiresAfter(s->options.read_timeout);
  auto [ec, n] = co_await asio::async_write(c.socket, asio::buffer(data), kTuple);
  co_return !ec;
}

// Answers `p` and closes. The client may still be sending the request (a body over the
// limit): closing a socket with unread data makes the kernel reset the connection, and the
// reset can destroy the answer before the client reads it — a proxy that streams the body
// (Traefik) then answers 502 instead of 413. So what still arrives is read and dropped
// first, for a bounded time and amount (nginx's "lingering close").
asio::awaitable<void> Reject(Server::State* s, Connection& c, const core::Problem& p) {
  constexpr std::size_t kLingerBytes = 8 << 20;
  constexpr auto kLingerTime = std::chrono::seconds(2);
  std::string out;
  AppendResponse(out, Response::Problem(p), 11, false, Method::kGet);
  if (!co_await Write(s, c, out)) co_return;
  c.ExpiresAfter(kLingerTime);
  beast::error_code ignored;
  c.socket.shutdown(tcp::socket::shutdown_send, ignored);
  std::array<char, 16 * 1024> sink;
  for (std::size_t dropped = 0; dropped < kLingerBytes;) {
    auto [ec, n] = co_await c.socket.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    dropped += n;
  }
}

// Writes a streamed response: the header, then chunks as the producer queues them, a
// keep-alive chunk when it is quiet, until the stream closes or the client goes away. The
// end of the body is the end of the connection (no length is known in advance).
asio::awaitable<void> WriteStream(Server::State* s, Connection& c, Response& r, unsigned version) {
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

  std::string head;
  AppendHead(head, r, version, std::nullopt, false);
  if (!co_await Write(s, c, head)) co_return;

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
      c.NeverExpires();  // a quiet stream is not a stuck one
      timer->expires_after(body->options().keepalive);
      auto [tec] = co_await timer->async_wait(kTuple);
      if (tec) continue;  // woken: something was queued
      chunk = body->options().keepalive_chunk;
    }
    if (!chunk.empty() && !co_await Write(s, c, chunk)) co_return;
    if (closed) break;
  }
  beast::error_code ignored;
  c.socket.shutdown(tcp::socket::shutdown_send, ignored);
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

asio::awaitable<void> Session(Server::State* s, Loop& loop, tcp::socket socket) {
  s->connections.fetch_add(1);
  struct Closed {
    Server::State* s;
    ~Closed() { s->connections.fetch_sub(1); }
  } closed{s};

  Connection c(loop, std::move(socket));
  beast::flat_buffer buffer;
  std::string out;  // each answer, written in one send
  KnownKey known_key;
  beast::error_code ec;
  const auto endpoint = c.socket.remote_endpoint(ec);
  const std::string remote = ec ? "" : endpoint.address().to_string();

  for (;;) {
    Request req;
    req.remote = remote;
    req.known_key = &known_key;
    RequestReader parser(req, s->options);
    if (buffer.size() == 0) {
      // Waiting for a request may take the idle timeout; once its first bytes are here, the
      // whole header must follow within the read timeout, so a client trickling a header
      // byte by byte (slowloris) is closed after that, not after the idle timeout.
      c.ExpiresAfter(s->options.idle_timeout);
      auto [iec, in] = co_await c.socket.async_read_some(buffer.prepare(kHeaderRead), kTuple);
      if (iec) co_return;
      buffer.commit(in);
    }
    if (auto rec = co_await Read(s, c, buffer, parser, false)) {
      if (auto p = ReadFailure(rec)) co_await Reject(s, c, *p);
      co_return;
    }
    if (auto p = AcceptHeader(parser, s->body_limit, req)) {
      co_await Reject(s, c, *p);
      co_return;
    }
    if (auto bec = co_await Read(s, c, buffer, parser, true)) {
      if (auto p = ReadFailure(bec)) co_await Reject(s, c, *p);
      co_return;
    }
    if (auto rid = req.Header("X-Request-Id"); rid && !rid->empty() && rid->size() <= 64)
      req.request_id = std::string(*rid);
    else
      req.request_id = s->NextRequestId();

    s->in_flight.fetch_add(1);
    c.NeverExpires();  // the handler takes the time it takes
    Response response = co_await Handle(s, req);
    response.headers.emplace_back("X-Request-Id", req.request_id);
    if (response.stream) {
      co_await WriteStream(s, c, response, parser.version());
      s->RequestDone();
      co_return;
    }
    const bool keep_alive = parser.keep_alive() && !s->draining.load();
    out.clear();
    AppendResponse(out, response, parser.version(), keep_alive, req.method);
    const bool written = co_await Write(s, c, out);
    s->RequestDone();
    if (!written) co_return;
    if (!keep_alive) {
      c.socket.shutdown(tcp::socket::shutdown_send, ec);
      co_return;
    }
  }
}

// Closes the loop's connections that are past their deadline, a few times per timeout.
asio::awaitable<void> Sweep(Server::State* s, Loop& loop) {
  const auto shortest = std::min(s->options.idle_timeout, s->options.read_timeout);
  const auto every =
      std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  asio::steady_timer timer(loop.ioc);
  for (;;) {
    timer.expires_after(every);
    co_await timer.async_wait(kTuple);
    const auto now = Connection::Clock::now();
    for (Connection* c : loop.connections) {
      beast::error_code ignored;
      if (c->deadline <= now) c->socket.close(ignored);
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
    asio::co_spawn(executor, Session(s, loop, std::move(socket)), asio::detached);
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
    asio::co_spawn(loop->ioc, Sweep(&s, *loop), asio::detached);
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
  // As Session and Read above, with reads from memory.
  const auto read = [&](RequestReader& parser, bool whole) {
    for (;;) {
      auto ec = Parse(parser, buffer, whole);
      if (ec != bhttp::error::need_more) return ec;
      const std::size_t n =
          stream.read_some(buffer.prepare(parser.is_header_done() ? kBodyRead : kHeaderRead), ec);
      if (ec) return AtEnd(parser);
      buffer.commit(n);
    }
  };
  for (;;) {
    Request req;
    RequestReader parser(req, options);
    if (auto ec = read(parser, false)) {
      out.rejected = ReadFailure(ec);
      return out;
    }
    if ((out.rejected = AcceptHeader(parser, body_limit, req))) return out;
    if (auto ec = read(parser, true)) {
      out.rejected = ReadFailure(ec);
      return out;
    }
    const bool keep_alive = parser.keep_alive();
    out.requests.push_back(std::move(req));
    if (!keep_alive) return out;
  }
}

}  // namespace count::http
