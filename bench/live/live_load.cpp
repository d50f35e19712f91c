// live_load: many Server-Sent Events subscribers on one instance and a writer at a fixed
// rate, measuring write → delivery latency (issue 4's live-update benchmark). Written here
// because the packaged load tools (wrk, vegeta) neither hold thousands of streams open nor
// read events off them. One thread, Boost.Asio + Beast; bench/live.py runs it.
//
//   live_load --sse-port P --write-port W --key K [--subscribers 10000] [--counters 1000]
//             [--rate 1000] [--seconds 30] [--writers 16] [--prefix live-bench-]
//
// Subscriber i watches counter i % counters; writes go round-robin over the counters, so
// each write reaches subscribers/counters streams. Latency = arrival − the event's
// `timestamp` (set when the write was applied; same clock, millisecond resolution).
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  int sse_port = 0, write_port = 0;
  std::string key, prefix = "live-bench-";
  int subscribers = 10'000, counters = 1'000, writers = 16;
  double rate = 1'000, seconds = 30;
};

struct Stats {
  int connected = 0, initial = 0, failed = 0, reconnect_hints = 0, ended = 0;
  long long events = 0, writes_sent = 0, writes_ok = 0, writes_failed = 0;
  double max_write_lag_ms = 0;
  bool measuring = false;
  std::vector<double> latency_ms;
};

// "2026-11-29T23:59:59.123Z" → milliseconds since the epoch; -1 when malformed.
long long ParseTimestampMs(std::string_view t) {
  int y, mo, d, h, mi, s, ms;
  if (t.size() < 24 || std::sscanf(std::string(t).c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h,
                                   &mi, &s, &ms) != 7)
    return -1;
  using namespace std::chrono;
  const sys_days date = year{y} / month(unsigned(mo)) / std::chrono::day(unsigned(d));
  return duration_cast<milliseconds>(date.time_since_epoch()).count() +
         ((h * 60LL + mi) * 60 + s) * 1000 + ms;
}

long long NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class Subscriber : public std::enable_shared_from_this<Subscriber> {
 public:
  Subscriber(asio::io_context& io, Stats& stats) : socket_(io), stats_(stats) {}

  void Start(const tcp::endpoint& at, std::string target, const std::string& key,
             std::function<void()> on_initial) {
    on_initial_ = std::move(on_initial);
    request_ = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
               "Authorization: Bearer " + key + "\r\n\r\n";
    socket_.async_connect(at, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Fail();
      asio::async_write(self->socket_, asio::buffer(self->request_),
                        [self](beast::error_code ec, std::size_t) {
                          if (ec) return self->Fail();
                          self->ReadHeader();
                        });
    });
  }

 private:
  // The server ends a stream's body with the connection (no chunking): after the header,
  // every byte read is event text.
  void ReadHeader() {
    http::async_read_header(socket_, buffer_, parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec || self->parser_.get().result_int() != 200)
                                return self->Fail();
                              ++self->stats_.connected;
                              const auto rest = self->buffer_.data();
                              self->OnBody({static_cast<const char*>(rest.data()), rest.size()});
                              self->Read();
                            });
  }

  void Read() {
    socket_.async_read_some(asio::buffer(chunk_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              if (ec) {
                                ++self->stats_.ended;
                                return;
                              }
                              self->OnBody({self->chunk_.data(), n});
                              self->Read();
                            });
  }

  void Fail() {
    ++stats_.failed;
    if (on_initial_) std::exchange(on_initial_, nullptr)();  // nobody waits for it any more
  }

  void OnBody(std::string_view body) {
    text_.append(body);
    std::size_t start = 0, end;
    while ((end = text_.find("\n\n", start)) != std::string::npos) {
      OnFrame(std::string_view(text_).substr(start, end - start));
      start = end + 2;
    }
    text_.erase(0, start);
  }

  void OnFrame(std::string_view frame) {
    const auto field = [&](std::string_view name) -> std::string_view {
      const auto at = frame.find(name);
      if (at == std::string_view::npos) return {};
      const auto from = at + name.size();
      return frame.substr(from, frame.find('\n', from) - from);
    };
    const auto event = field("event: ");
    if (event == "initial") {
      ++stats_.initial;
      if (on_initial_) std::exchange(on_initial_, nullptr)();
    } else if (event == "reconnect") {
      ++stats_.reconnect_hints;
    } else if (event == "count_updated") {
      ++stats_.events;
      if (!stats_.measuring) return;
      const auto data = boost::json::parse(field("data: ")).as_object();
      const auto at = ParseTimestampMs(data.at("timestamp").as_string());
      if (at >= 0) stats_.latency_ms.push_back(double(NowMs() - at));
    }
  }

  tcp::socket socket_;
  Stats& stats_;
  std::string request_, text_;
  beast::flat_buffer buffer_;
  http::response_parser<http::empty_body> parser_;
  std::function<void()> on_initial_;
  std::array<char, 4096> chunk_;
};

// One keep-alive connection sending increments at its share of the rate: request k leaves at
// start + k / rate_per_writer, or as soon as the previous answer is in when it runs late.
class Writer : public std::enable_shared_from_this<Writer> {
 public:
  Writer(asio::io_context& io, Stats& stats, const Options& o, int index)
      : socket_(io), timer_(io), stats_(stats), options_(o), index_(index) {}

  void Start(const tcp::endpoint& at, Clock::time_point start, Clock::time_point stop) {
    start_ = start;
    stop_ = stop;
    socket_.async_connect(at, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        ++self->stats_.writes_failed;
        return;
      }
      self->Next();
    });
  }

 private:
  void Next() {
    const double per_writer = options_.rate / options_.writers;
    const auto due = start_ + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(double(sent_) / per_writer));
    if (due >= stop_) return;
    const auto lag = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
    stats_.max_write_lag_ms = std::max(stats_.max_write_lag_ms, lag);
    timer_.expires_at(due);
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->Send(); });
  }

  void Send() {
    const long long n = sent_++ * options_.writers + index_;
    request_ = {
        http::verb::post,
        "/api/v1/counts/" + options_.prefix + std::to_string(n % options_.counters) + "/increment",
        11};
    request_.set(http::field::host, "127.0.0.1");
    request_.set(http::field::authorization, "Bearer " + options_.key);
    request_.content_length(0);
    ++stats_.writes_sent;
    http::async_write(
        socket_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
          if (ec) return self->Failed();
          self->response_ = {};
          http::async_read(self->socket_, self->buffer_, self->response_,
                           [self](beast::error_code ec, std::size_t) {
                             if (ec) return self->Failed();
                             ++(self->response_.result_int() == 200 ? self->stats_.writes_ok
                                                                    : self->stats_.writes_failed);
                             self->Next();
                           });
        });
  }

  void Failed() { ++stats_.writes_failed; }

  tcp::socket socket_;
  asio::steady_timer timer_;
  Stats& stats_;
  const Options& options_;
  const int index_;
  long long sent_ = 0;
  Clock::time_point start_, stop_;
  http::request<http::empty_body> request_;
  http::response<http::string_body> response_;
  beast::flat_buffer buffer_;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = std::size_t(p / 100.0 * double(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k];
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--sse-port")
      o.sse_port = std::stoi(value);
    else if (flag == "--write-port")
      o.write_port = std::stoi(value);
    else if (flag == "--key")
      o.key = value;
    else if (flag == "--prefix")
      o.prefix = value;
    else if (flag == "--subscribers")
      o.subscribers = std::stoi(value);
    else if (flag == "--counters")
      o.counters = std::stoi(value);
    else if (flag == "--writers")
      o.writers = std::stoi(value);
    else if (flag == "--rate")
      o.rate = std::stod(value);
    else if (flag == "--seconds")
      o.seconds = std::stod(value);
    else
      throw std::invalid_argument("unknown flag " + std::string(flag));
  }
  if (!o.sse_port || !o.write_port || o.key.empty() || o.counters < 1 || o.writers < 1)
    throw std::invalid_argument("--sse-port, --write-port and --key are required");
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = Parse(argc, argv);
  rlimit limit{};  // one descriptor per stream
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  asio::io_context io;
  Stats stats;
  const auto loopback = asio::ip::make_address("127.0.0.1");
  const tcp::endpoint sse_at(loopback, std::uint16_t(o.sse_port)),
      write_at(loopback, std::uint16_t(o.write_port));

  // Connect in waves of 500 so the listen backlog never overflows.
  const auto connect_start = Clock::now();
  int launched = 0, settled = 0;
  std::function<void()> launch_wave = [&] {
    for (int i = 0; i < 500 && launched < o.subscribers; ++i, ++launched) {
      auto s = std::make_shared<Subscriber>(io, stats);
      s->Start(sse_at,
               "/dashboard/events?countIds=" + o.prefix + std::to_string(launched % o.counters),
               o.key, [&] {
                 if (++settled == launched && launched < o.subscribers) launch_wave();
               });
    }
  };
  launch_wave();
  while (settled < o.subscribers && io.run_one()) {
  }
  const double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  std::cerr << "live_load: " << stats.initial << " of " << o.subscribers << " streams open in "
            << connect_s << " s (" << stats.failed << " failed); writing at " << o.rate << "/s for "
            << o.seconds << " s\n";

  stats.measuring = true;
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const auto stop =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  for (int w = 0; w < o.writers; ++w)
    std::make_shared<Writer>(io, stats, o, w)->Start(write_at, start, stop);
  io.run_until(stop + std::chrono::seconds(2));  // the last events are still on their way
  const double achieved = double(stats.writes_ok) / o.seconds;

  auto& lat = stats.latency_ms;
  const long long expected = stats.writes_ok * (o.subscribers / o.counters);
  boost::json::object out{
      {"subscribers", o.subscribers},
      {"streams_open", stats.initial},
      {"streams_failed", stats.failed},
      {"connect_seconds", connect_s},
      {"write_rate_target", o.rate},
      {"write_rate_achieved", achieved},
      {"writes_failed", stats.writes_failed},
      {"max_write_lag_ms", stats.max_write_lag_ms},
      {"deliveries", stats.events},
      {"deliveries_expected", expected},
      {"reconnect_hints", stats.reconnect_hints},
      {"streams_ended", stats.ended},
      {"latency_ms_p50", Percentile(lat, 50)},
      {"latency_ms_p95", Percentile(lat, 95)},
      {"latency_ms_p99", Percentile(lat, 99)},
      {"latency_ms_max", lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end())}};
  std::cout << boost::json::serialize(out) << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "live_load: " << e.what() << "\n";
  return 2;
}
