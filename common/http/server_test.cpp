// The server's streamed responses, over real loopback sockets.
#include "http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "http/problem_types.hpp"

namespace count::http {
namespace {

using namespace std::chrono_literals;

// A new loopback connection to `port`.
int Open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

int Connect(int port) {
  const int fd = Open(port);
  const std::string request = "GET /events HTTP/1.1\r\nHost: x\r\n\r\n";
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
  return fd;
}

// Reads until `needle` has arrived or the peer closed (returns all read), or `timeout`.
std::string ReadUntil(int fd, std::string_view needle, std::chrono::milliseconds timeout) {
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (got.find(needle) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

struct StreamingServer {
  std::shared_ptr<Stream> stream;
  std::atomic<int> ended{0};
  Server server;
  int port;

  explicit StreamingServer(Stream::Options options)
      : server(
            {.host = "127.0.0.1", .threads = 2}, [](Method, std::string_view) { return 0u; },
            [this, options](Request&) {
              Response r;
              r.content_type = "text/event-stream";
              stream = std::make_shared<Stream>(options);
              stream->OnEnd([this] { ++ended; });
              stream->Push("data: first\n\n");
              r.stream = stream;
              return r;
            }),
        port(server.Start()) {}
};

TEST(ServerStream, WritesChunksAsTheyComeAndKeepsAQuietStreamAlive) {
  StreamingServer s({.keepalive = 200ms, .keepalive_chunk = ": ping\n\n"});
  const int fd = Connect(s.port);
  const auto head = ReadUntil(fd, "data: first\n\n", 5s);
  EXPECT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;

  s.stream->Push("data: second\n\n");
  EXPECT_NE(ReadUntil(fd, "data: second\n\n", 5s).find("data: second"), std::string::npos);
  EXPECT_NE(ReadUntil(fd, ": ping\n\n", 5s).find(": ping"), std::string::npos);
  ::close(fd);
}

TEST(ServerStream, DrainEndsTheStreamAfterItsDrainChunk) {
  StreamingServer s({.drain_chunk = "event: bye\n\n"});
  const int fd = Connect(s.port);
  ReadUntil(fd, "data: first\n\n", 5s);
  EXPECT_EQ(s.server.InFlight(), 1u);
  s.server.BeginDrain();
  const auto rest = ReadUntil(fd, "\x01", 5s);  // until the server closes
  EXPECT_NE(rest.find("event: bye\n\n"), std::string::npos) << rest;
  EXPECT_TRUE(s.server.WaitIdle(5s));
  EXPECT_EQ(s.ended.load(), 1);
  ::close(fd);
}

TEST(ServerStream, AClientThatLeavesEndsItsStream) {
  StreamingServer s({.keepalive = 100ms});
  const int fd = Connect(s.port);
  ReadUntil(fd, "data: first\n\n", 5s);
  ::close(fd);
  // The next write (a keep-alive at the latest) finds the connection gone.
  EXPECT_TRUE(s.server.WaitIdle(5s));
  EXPECT_EQ(s.ended.load(), 1);
  EXPECT_FALSE(s.stream->Push("data: late\n\n"));
}

// A client that trickles its header is closed after the read timeout; one that sends
// nothing waits for the idle timeout.
TEST(ServerTimeouts, ATrickledHeaderIsClosedAfterTheReadTimeout) {
  Server server(
      {.host = "127.0.0.1", .threads = 2, .idle_timeout = 5s, .read_timeout = 300ms},
      [](Method, std::string_view) { return 0u; }, [](Request&) { return Response::NoContent(); });
  const int port = server.Start();
  const int slow = Open(port);
  const int idle = Open(port);
  const std::string header = "GET /x HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa";
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (char c : header) {
    if (::send(slow, &c, 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{slow, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      char buf[256];
      if (::recv(slow, buf, sizeof buf, 0) <= 0) {
        closed = true;
        break;
      }
    }
  }
  EXPECT_TRUE(closed) << "a trickled header was not closed";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  pollfd p{idle, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "an idle connection was closed before the idle timeout";
  ::close(slow);
  ::close(idle);
  server.Stop();
}

// A client still sending a body over the limit (as a proxy that streams it does) may go on
// sending after the 413: the server reads and drops the rest before it closes, so the kernel
// never resets the connection under the answer (which then reaches no client).
TEST(ServerTimeouts, After413TheRestOfTheBodyIsReadNotReset) {
  Server server(
      {.host = "127.0.0.1", .threads = 1}, [](Method, std::string_view) { return 1024u; },
      [](Request&) { return Response::NoContent(); });
  const int port = server.Start();
  const int fd = Open(port);
  const std::string body(2 << 20, 'x');
  const std::string head =
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), ssize_t(head.size()));
  const auto got = ReadUntil(fd, "\x01", 5s);  // the answer, then the server's end of sending
  EXPECT_NE(got.find("HTTP/1.1 413"), std::string::npos) << got;
  // In pieces with pauses: a reset has time to come back between them.
  std::size_t sent = 0;
  while (sent < body.size()) {
    const ssize_t n = ::send(fd, body.data() + sent, 64 << 10, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
    std::this_thread::sleep_for(2ms);
  }
  EXPECT_EQ(sent, body.size()) << "the connection was reset: " << std::strerror(errno);
  ::close(fd);
  server.Stop();
}

// Sends one request on a new connection and returns the whole answer (the server closes).
std::string Get(int port, std::string_view path) {
  const int fd = Open(port);
  const std::string request =
      "GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
  auto got = ReadUntil(fd, "\x01", 10s);
  ::close(fd);
  return got;
}

// A blocking handler that waits (a slow PostgreSQL call) holds a thread of the blocking pool,
// never an event loop: with one loop and one blocking thread, both held, /health/live and an
// async route that answers later from another thread still answer at once.
TEST(ServerLoops, ABlockedHandlerDelaysNeitherLivenessNorAsyncRoutes) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  Server server(
      {.host = "127.0.0.1", .threads = 1, .blocking_threads = 1},
      [](Method, std::string_view) { return 0u; },
      Server::AsyncHandleFn([&](Request& r, Respond respond) {
        if (r.path == "/health/live") return respond(Response::NoContent());
        if (r.path == "/async") {
          std::thread([respond] { respond(Response::Json(200, R"({"later":true})")); }).detach();
          return;
        }
        server.RunBlocking([&, respond] {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return release; });
          respond(Response::Json(200, R"({"slow":true})"));
        });
      }));
  const int port = server.Start();
  std::string slow;
  std::thread blocked([&] { slow = Get(port, "/slow"); });
  std::this_thread::sleep_for(100ms);  // the blocking thread now waits

  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(Get(port, "/health/live").find("HTTP/1.1 204"), std::string::npos);
  EXPECT_NE(Get(port, "/async").find(R"({"later":true})"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(server.InFlight(), 1u);  // the slow one

  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  blocked.join();
  EXPECT_NE(slow.find(R"({"slow":true})"), std::string::npos) << slow;
  EXPECT_TRUE(server.WaitIdle(5s));
}

// Every loop listens on the port: many connections are all served, whichever loop takes them.
TEST(ServerLoops, EveryLoopServesConnections) {
  std::mutex mu;
  std::set<std::thread::id> loops;
  Server server(
      {.host = "127.0.0.1", .threads = 4}, [](Method, std::string_view) { return 0u; },
      Server::AsyncHandleFn([&](Request&, Respond respond) {
        {
          std::lock_guard lock(mu);
          loops.insert(std::this_thread::get_id());
        }
        respond(Response::NoContent());
      }));
  const int port = server.Start();
  for (int i = 0; i < 64; ++i) EXPECT_NE(Get(port, "/x").find("HTTP/1.1 204"), std::string::npos);
  EXPECT_GT(loops.size(), 1u);  // the kernel spread 64 connections over 4 loops
}

// The answer as the server writes it: status line, the handler's fields, the length, the
// body; a field whose value would split the header (CR or LF) is dropped; HEAD gets the
// length but no body; 204 gets neither.
TEST(ServerWrite, AnswersCarryTheirFieldsAndLengthAndNoInjectedLines) {
  Server server(
      {.host = "127.0.0.1", .threads = 1}, [](Method, std::string_view) { return 0u; },
      [](Request& r) {
        if (r.path == "/empty") return Response::NoContent();
        Response res = Response::Json(200, R"({"ok":true})");
        res.headers.emplace_back("X-Kept", "yes");
        res.headers.emplace_back("X-Split", "a\r\nX-Injected: 1");
        return res;
      });
  const int port = server.Start();
  const std::string got = Get(port, "/x");
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Type: application/json\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("X-Kept: yes\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Length: 11\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
  EXPECT_EQ(got.find("X-Injected"), std::string::npos) << got;
  EXPECT_EQ(got.substr(got.size() - 11), R"({"ok":true})");

  const int fd = Open(port);
  const std::string head = "HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), ssize_t(head.size()));
  const std::string headers = ReadUntil(fd, "\x01", 10s);
  ::close(fd);
  EXPECT_NE(headers.find("Content-Length: 11\r\n"), std::string::npos) << headers;
  EXPECT_EQ(headers.substr(headers.size() - 4), "\r\n\r\n") << "HEAD: no body";

  const std::string empty = Get(port, "/empty");
  EXPECT_EQ(empty.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u) << empty;
  EXPECT_EQ(empty.find("Content-Length"), std::string::npos) << empty;
}

// Reading requests from bytes, as a connection does (ReadRequests shares the server's code).
std::size_t ImportLimit(Method, std::string_view path) {
  return path == "/import" ? std::size_t{8} << 20 : std::size_t{64} << 10;
}

TEST(ServerRead, PipelinedRequestsArriveInPieces) {
  const std::string_view pieces[] = {"GET /a?x=1 HTTP/1.1\r\nHo", "st: h\r\n\r\nPOST /b HTTP/1.1\r",
                                     "\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"};
  const auto out = ReadRequests(pieces, {}, ImportLimit);
  ASSERT_EQ(out.requests.size(), 2u);
  EXPECT_FALSE(out.rejected);
  EXPECT_EQ(out.requests[0].path, "/a");
  EXPECT_EQ(out.requests[0].Query("x"), "1");
  EXPECT_EQ(out.requests[1].body, "hi");
}

// Regression (found while factoring the parser setup out for fuzzing): Beast's default body limit
// of 1 MiB refused a larger Content-Length while the header was read, before the route's own limit
// (8 MiB for history:import) applied.
TEST(ServerRead, ARouteLimitAboveOneMebibyteHolds) {
  const std::string body((std::size_t{2} << 20), 'x');
  const std::string head =
      "POST /import HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const std::string_view pieces[] = {head, body};
  const auto out = ReadRequests(pieces, {}, ImportLimit);
  EXPECT_FALSE(out.rejected) << out.rejected->detail;
  ASSERT_EQ(out.requests.size(), 1u);
  EXPECT_EQ(out.requests[0].body.size(), body.size());
}

TEST(ServerRead, BodiesBeyondTheRouteLimitAre413) {
  const std::string_view declared[] = {"POST /b HTTP/1.1\r\nContent-Length: 65537\r\n\r\n"};
  auto out = ReadRequests(declared, {}, ImportLimit);
  ASSERT_TRUE(out.rejected);
  EXPECT_EQ(StatusOf(*out.rejected), 413);

  const std::string chunk(40'000, 'x');
  const std::string chunked = "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n9c40\r\n" +
                              chunk + "\r\n9c40\r\n" + chunk + "\r\n0\r\n\r\n";
  const std::string_view pieces[] = {chunked};
  out = ReadRequests(pieces, {}, ImportLimit);
  ASSERT_TRUE(out.rejected);
  EXPECT_EQ(StatusOf(*out.rejected), 413);
  EXPECT_TRUE(out.requests.empty());
}

TEST(ServerRead, MalformedAndOversizedHeadersAreRefused) {
  const std::string_view bad[] = {"GET /a HTTP/1.1\r\nBad Header\r\n\r\n"};
  auto out = ReadRequests(bad, {}, ImportLimit);
  ASSERT_TRUE(out.rejected);
  EXPECT_EQ(StatusOf(*out.rejected), 400);

  const std::string big = "GET /a HTTP/1.1\r\nX: " + std::string(20'000, 'y') + "\r\n\r\n";
  const std::string_view large[] = {big};
  out = ReadRequests(large, {}, ImportLimit);
  ASSERT_TRUE(out.rejected);
  EXPECT_EQ(StatusOf(*out.rejected), 431);

  const std::string_view truncated[] = {"GET /a HTTP/1.1\r\nHost: x\r\n"};
  out = ReadRequests(truncated, {}, ImportLimit);
  EXPECT_FALSE(out.rejected);  // the client left: nothing to answer
  EXPECT_TRUE(out.requests.empty());
}

}  // namespace
}  // namespace count::http
