#include "redis/redis_connection.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/ports.hpp"
#include "redis/cluster_slots.hpp"
#include "redis/hiredis_reply.hpp"

namespace count::redis {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kMinBackoff{20};
constexpr std::chrono::milliseconds kMaxBackoff{500};
constexpr std::size_t kReadChunk = 16 * 1024;

std::exception_ptr Unavailable(std::string message) {
  return std::make_exception_ptr(core::StoreUnavailable(std::move(message)));
}

// A call that failed before any of its commands was written (the node refused the connection,
// or its time ran out in the queue): sending it elsewhere cannot apply anything twice.
struct NotSent : core::StoreUnavailable {
  using StoreUnavailable::StoreUnavailable;
};

// One node of a cluster to connect to, instead of the client's endpoint or Sentinel's master.
struct Node {
  RedisEndpoint endpoint;
  bool readonly = false;  // a replica that serves reads: READONLY on connect
};

// Appends the RESP form of `args` to `out` (hiredis's formatter: its sds variant formats with
// hiredis's own sdscatfmt, where redisFormatCommandArgv calls sprintf for every argument).
void Format(const std::vector<std::string>& args, std::string& out) {
  auto& a = detail::Argv::Of(args);
  sds command = nullptr;
  const long long n = redisFormatSdsCommandArgv(&command, a.argc(), a.argv.data(), a.lens.data());
  if (n < 0) throw std::bad_alloc();
  out.append(command, static_cast<std::size_t>(n));
  redisFreeSdsCommand(command);
}

using detail::NewReader;
using detail::ReaderPtr;

// The commands of one Send: their replies fill in as they arrive.
struct Call {
  Replies replies;
  std::size_t remaining;
  RepliesFn done;
  Clock::time_point deadline;
  bool finished = false;

  void Finish(std::exception_ptr error) {
    if (finished) return;
    finished = true;
    auto d = std::move(done);
    d(error, error ? Replies{} : std::move(replies));
  }
};

// One command, queued or written and waiting for its reply.
struct Entry {
  std::shared_ptr<Call> call;
  std::size_t index;
  std::vector<std::string> args;
  bool retried = false;
  bool retry_now = false;  // refused as READONLY/LOADING: send again to the next master
};

class LoopConnection final : public RedisConnection,
                             public std::enable_shared_from_this<LoopConnection> {
 public:
  // Connects where `client` does, or to `node` of a cluster: then a failed connect fails the
  // waiting calls at once (NotSent), for the cluster's router to send them elsewhere.
  LoopConnection(asio::io_context& loop, RedisClient& client, asio::thread_pool& resolver,
                 std::optional<Node> node = std::nullopt)
      : loop_(loop),
        client_(client),
        resolver_(resolver),
        node_(std::move(node)),
        follows_sentinel_(!node_ && client.FollowsSentinel()),
        timeout_(client.options().timeout),
        socket_(loop),
        backoff_timer_(loop),
        deadline_timer_(loop),
        reader_(NewReader()) {}

  void Defer(std::function<void()> f) override { asio::post(loop_, std::move(f)); }

  void Send(std::vector<std::vector<std::string>> commands, RepliesFn done) override {
    if (commands.empty()) return done(nullptr, {});
    auto call = std::make_shared<Call>();
    call->replies.resize(commands.size());
    call->remaining = commands.size();
    call->done = std::move(done);
    call->deadline = Clock::now() + timeout_;
    for (std::size_t i = 0; i < commands.size(); ++i)
      unsent_.push_back({call, i, std::move(commands[i])});
    if (state_ == State::kReady)
      FlushSoon();
    else if (state_ == State::kIdle)
      StartConnect();
    WatchDeadlines();
  }

 private:
  enum class State { kIdle, kConnecting, kReady };

  // Flush once the loop has run the handlers it has ready: the commands of the requests read
  // in one wake-up go out in one send, not the first alone and the rest behind it.
  void FlushSoon() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(loop_, [self = shared_from_this()] {
      self->flush_posted_ = false;
      if (self->state_ == State::kReady) self->Flush();
    });
  }

  // Writes whatever is queued behind what is being written.
  void Flush() {
    while (!unsent_.empty()) {
      Entry e = std::move(unsent_.front());
      unsent_.pop_front();
      if (e.call->finished) continue;
      Format(e.args, out_);
      inflight_.push_back(std::move(e));
    }
    if (!writing_ && !out_.empty()) {
      writing_ = true;
      asio::co_spawn(loop_, Write(shared_from_this(), generation_), asio::detached);
    }
  }

  static asio::awaitable<void> Write(std::shared_ptr<LoopConnection> self, std::uint64_t gen) {
    std::string buffer;
    while (gen == self->generation_ && !self->out_.empty()) {
      buffer.swap(self->out_);
      auto [ec, n] = co_await asio::async_write(self->socket_, asio::buffer(buffer), kTuple);
      buffer.clear();
      if (gen != self->generation_) co_return;
      if (ec) co_return self->Lost("redis: write failed: " + ec.message());
    }
    if (gen == self->generation_) self->writing_ = false;
  }

  static asio::awaitable<void> Read(std::shared_ptr<LoopConnection> self, std::uint64_t gen) {
    std::vector<char> buffer(kReadChunk);
    for (;;) {
      auto [ec, n] = co_await self->socket_.async_read_some(asio::buffer(buffer), kTuple);
      if (gen != self->generation_) co_return;
      if (ec) co_return self->Lost("redis: connection lost: " + ec.message());
      if (redisReaderFeed(self->reader_.get(), buffer.data(), n) != REDIS_OK)
        co_return self->Lost("redis: protocol error");
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(self->reader_.get(), &raw) != REDIS_OK)
          co_return self->Lost("redis: protocol error");
        if (raw == nullptr) break;
        Reply reply = detail::TakeReply(raw);
        if (self->inflight_.empty()) co_return self->Lost("redis: a reply nobody asked for");
        Entry e = std::move(self->inflight_.front());
        self->inflight_.pop_front();
        if (self->follows_sentinel_ && !e.retried && detail::IsRetriedAfterFailover(reply)) {
          e.retry_now = true;  // the server refused it: safe to send again to the new master
          self->inflight_.push_front(std::move(e));
          co_return self->Lost("redis: " + reply.str);
        }
        Call& call = *e.call;
        if (call.finished) continue;
        call.replies[e.index] = std::move(reply);
        if (--call.remaining == 0) call.Finish(nullptr);
        if (gen != self->generation_) co_return;  // a callback failed the connection
      }
    }
  }

  // The connection broke (or stalled): commands in flight fail, except those that may be
  // sent again (read-only ones, once; refused ones); then reconnect if anything waits.
  void Lost(std::string reason) {
    ++generation_;
    state_ = State::kIdle;
    writing_ = false;
    out_.clear();
    boost::system::error_code ignored;
    socket_.close(ignored);
    reader_ = NewReader();
    last_error_ = reason;
    auto inflight = std::move(inflight_);
    inflight_.clear();
    std::vector<Entry> retry;
    for (auto& e : inflight) {
      if (e.call->finished) continue;
      if (e.retry_now || (!e.retried && detail::IsReadOnly(e.args))) {
        e.retried = true;
        e.retry_now = false;
        retry.push_back(std::move(e));
      } else {
        e.call->Finish(Unavailable(reason));
      }
    }
    unsent_.insert(unsent_.begin(), std::make_move_iterator(retry.begin()),
                   std::make_move_iterator(retry.end()));
    if (state_ == State::kIdle && !unsent_.empty()) StartConnect();
  }

  void StartConnect() {
    state_ = State::kConnecting;
    asio::co_spawn(loop_, Connect(shared_from_this(), generation_), asio::detached);
  }

  static asio::awaitable<void> Connect(std::shared_ptr<LoopConnection> self, std::uint64_t gen) {
    auto backoff = kMinBackoff;
    for (;;) {
      std::string error = co_await self->TryConnect(gen);
      if (gen != self->generation_) co_return;
      if (error.empty()) {
        self->state_ = State::kReady;
        asio::co_spawn(self->loop_, Read(self, gen), asio::detached);
        self->Flush();
        co_return;
      }
      boost::system::error_code ignored;
      self->socket_.close(ignored);
      self->reader_ = NewReader();
      self->last_error_ = std::move(error);
      if (self->node_) {
        // Taken out first: a callback may send again on this connection.
        auto failed = std::move(self->unsent_);
        self->unsent_.clear();
        for (auto& e : failed)
          if (!e.call->finished)
            e.call->Finish(std::make_exception_ptr(NotSent(self->last_error_)));
        if (gen != self->generation_) co_return;
      }
      self->FailExpired(Clock::now());
      if (self->unsent_.empty()) {
        self->state_ = State::kIdle;
        co_return;
      }
      self->backoff_timer_.expires_after(backoff);
      co_await self->backoff_timer_.async_wait(kTuple);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  // The master's address, asked off the loop when the sentinels must be asked.
  asio::awaitable<std::pair<RedisEndpoint, std::string>> ResolveEndpoint() {
    auto resolve = [this]() -> std::pair<RedisEndpoint, std::string> {
      try {
        return {client_.Resolve(), ""};
      } catch (const std::exception& e) {
        return {{}, e.what()};
      }
    };
    if (node_) co_return std::pair<RedisEndpoint, std::string>{node_->endpoint, ""};
    if (!follows_sentinel_) co_return resolve();
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                            void(std::pair<RedisEndpoint, std::string>)>(
        [this, resolve](auto handler) {
          auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
          asio::post(resolver_, [this, resolve, waiting] {
            asio::post(loop_, [waiting, result = resolve()]() mutable {
              std::move (*waiting)(std::move(result));
            });
          });
        },
        asio::use_awaitable);
  }

  // Connects, authenticates, selects and (behind Sentinel) checks the role, within the
  // timeout; returns why it failed, or "".
  asio::awaitable<std::string> TryConnect(std::uint64_t gen) {
    auto [ep, error] = co_await ResolveEndpoint();
    if (!error.empty()) co_return error;
    const std::string address = ep.host + ":" + std::to_string(ep.port);
    tcp::resolver resolver(loop_);
    auto [rec, endpoints] =
        co_await resolver.async_resolve(ep.host, std::to_string(ep.port), kTuple);
    if (rec) co_return "redis: cannot resolve " + address + ": " + rec.message();

    // The timeout closes a connect or handshake that hangs.
    bool expired = false;
    asio::steady_timer guard(loop_, timeout_);
    guard.async_wait([this, &expired, gen](boost::system::error_code ec) {
      if (ec || gen != generation_) return;
      expired = true;
      boost::system::error_code ignored;
      socket_.close(ignored);
    });
    struct Cancel {
      asio::steady_timer& t;
      ~Cancel() { t.cancel(); }
    } cancel{guard};

    socket_ = tcp::socket(loop_);
    auto [cec, connected] = co_await asio::async_connect(socket_, endpoints, kTuple);
    if (cec)
      co_return "redis: cannot connect to " + address + ": " +
          (expired ? "timed out" : cec.message());
    socket_.set_option(tcp::no_delay(true), cec);
    socket_.set_option(asio::socket_base::keep_alive(true), cec);

    std::vector<std::vector<std::string>> hello;
    if (!ep.password.empty()) {
      hello.push_back({"AUTH"});
      if (!ep.user.empty()) hello.back().push_back(ep.user);
      hello.back().push_back(ep.password);
    }
    if (ep.db != 0) hello.push_back({"SELECT", std::to_string(ep.db)});
    if (follows_sentinel_) hello.push_back({"ROLE"});
    if (node_ && node_->readonly) hello.push_back({"READONLY"});
    if (hello.empty()) co_return "";
    std::string out;
    for (const auto& c : hello) Format(c, out);
    auto [wec, wn] = co_await asio::async_write(socket_, asio::buffer(out), kTuple);
    if (wec) co_return "redis: handshake with " + address + " failed: " + wec.message();
    std::vector<char> buffer(kReadChunk);
    for (const auto& c : hello) {
      void* raw = nullptr;
      while (raw == nullptr) {
        if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK)
          co_return "redis: protocol error from " + address;
        if (raw != nullptr) break;
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), kTuple);
        if (ec) co_return "redis: handshake with " + address + " failed: " + ec.message();
        redisReaderFeed(reader_.get(), buffer.data(), n);
      }
      Reply r = detail::TakeReply(raw);
      if (r.IsError()) co_return "redis: " + c.front() + " refused by " + address + ": " + r.str;
      if (c.front() == "ROLE" &&
          (r.type != Reply::Type::kArray || r.elements.empty() || r.elements[0].str != "master"))
        co_return "redis: " + address + " is not a master";
    }
    co_return "";
  }

  // Calls whose time is up fail: those not yet written, and (closing the connection, whose
  // FIFO cannot skip a reply) those written and still unanswered.
  void FailExpired(Clock::time_point now) {
    for (auto& e : unsent_) {
      if (!e.call->finished && now >= e.call->deadline)
        e.call->Finish(std::make_exception_ptr(
            NotSent("redis: command not sent within " + std::to_string(timeout_.count()) + " ms" +
                    (last_error_.empty() ? "" : " (" + last_error_ + ")"))));
    }
    std::erase_if(unsent_, [](const Entry& e) { return e.call->finished; });
    if (!inflight_.empty() && now >= inflight_.front().call->deadline &&
        !inflight_.front().call->finished)
      Lost("redis: no reply within " + std::to_string(timeout_.count()) + " ms");
  }

  void WatchDeadlines() {
    if (watching_) return;
    watching_ = true;
    asio::co_spawn(loop_, Watch(shared_from_this()), asio::detached);
  }

  static asio::awaitable<void> Watch(std::shared_ptr<LoopConnection> self) {
    const auto tick = std::clamp(self->timeout_ / 4, std::chrono::milliseconds(10),
                                 std::chrono::milliseconds(250));
    while (!self->unsent_.empty() || !self->inflight_.empty()) {
      self->deadline_timer_.expires_after(tick);
      co_await self->deadline_timer_.async_wait(kTuple);
      self->FailExpired(Clock::now());
    }
    self->watching_ = false;
  }

  asio::io_context& loop_;
  RedisClient& client_;
  asio::thread_pool& resolver_;
  const std::optional<Node> node_;
  const bool follows_sentinel_;
  const std::chrono::milliseconds timeout_;
  tcp::socket socket_;
  asio::steady_timer backoff_timer_, deadline_timer_;
  ReaderPtr reader_;
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;  // one per connection attempt: older coroutines stop
  std::deque<Entry> unsent_, inflight_;
  std::string out_;  // formatted, waiting for the write in progress
  bool writing_ = false, watching_ = false, flush_posted_ = false;
  std::string last_error_;
};

// Redis Cluster on one loop: a LoopConnection per node, each command sent to the node serving
// its key's slot (cluster_slots.hpp), commands for one node of one Send written back to back.
// MOVED: the slot is noted as the named node's and the slot table read again; ASK: ASKING and
// the command to the named node, once. A node that cannot be reached, CLUSTERDOWN or TRYAGAIN:
// the table is read again (after a failover it names the promoted replica) and what may be
// sent again is, until the call's time is up: commands never written (NotSent), commands the
// server refused, and read-only ones; a write lost in flight fails (it may have applied), as
// with Sentinel.
class ClusterConnection final : public RedisConnection,
                                public std::enable_shared_from_this<ClusterConnection> {
 public:
  ClusterConnection(asio::io_context& loop, RedisClient& client, asio::thread_pool& resolver)
      : loop_(loop),
        client_(client),
        resolver_(resolver),
        config_(*client.cluster()),
        timeout_(client.options().timeout),
        refresh_timer_(loop) {}

  void Defer(std::function<void()> f) override { asio::post(loop_, std::move(f)); }

  void Send(std::vector<std::vector<std::string>> commands, RepliesFn done) override {
    if (commands.empty()) return done(nullptr, {});
    auto call = std::make_shared<ClusterCall>();
    call->replies.resize(commands.size());
    call->attempts.resize(commands.size());
    call->remaining = commands.size();
    call->commands = std::move(commands);
    call->done = std::move(done);
    call->deadline = Clock::now() + timeout_;
    std::vector<std::size_t> all(call->commands.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    // Changes that cause no redirection (a replica added) are seen within kMaxTableAge.
    if (map_ && call->deadline - timeout_ - read_at_ > kMaxTableAge)
      ScheduleRefresh(std::chrono::milliseconds(0));
    Route(call, std::move(all));
  }

 private:
  static constexpr int kMaxRedirects = 5;
  static constexpr std::chrono::milliseconds kRetryDelay{50};
  static constexpr std::chrono::seconds kMaxTableAge{10};

  struct ClusterCall {
    std::vector<std::vector<std::string>> commands;
    Replies replies;
    std::vector<int> attempts;
    std::size_t remaining = 0;
    RepliesFn done;
    Clock::time_point deadline;
    bool finished = false;

    void Set(std::size_t i, Reply reply) {
      if (finished) return;
      replies[i] = std::move(reply);
      if (--remaining == 0) Finish(nullptr);
    }
    void Finish(std::exception_ptr error) {
      if (finished) return;
      finished = true;
      auto d = std::move(done);
      d(error, error ? Replies{} : std::move(replies));
    }
  };
  using CallPtr = std::shared_ptr<ClusterCall>;
  struct Waiting {
    CallPtr call;
    std::vector<std::size_t> indices;
  };

  std::shared_ptr<LoopConnection> NodeConnection(const RedisEndpoint& ep, bool readonly) {
    const std::string name = ep.host + ":" + std::to_string(ep.port) + (readonly ? "/ro" : "");
    auto& connection = nodes_[name];
    if (!connection)
      connection = std::make_shared<LoopConnection>(loop_, client_, resolver_, Node{ep, readonly});
    return connection;
  }

  RedisEndpoint Endpoint(const std::string& host, int port) const {
    return RedisEndpoint{host, port, config_.user, config_.password, 0};
  }

  // Where `args` goes now: the primary of its key's slot, or a replica of it for a read when
  // replica reads are on; a command without a key goes to the first shard's primary.
  std::shared_ptr<LoopConnection> Target(const std::vector<std::string>& args) {
    const auto key = CommandKey(args);
    const auto& shard = map_->ShardOf(key ? KeySlot(*key) : 0);
    if (config_.replica_reads && !shard.replicas.empty() && detail::IsReadOnly(args))
      return NodeConnection(shard.replicas[next_replica_++ % shard.replicas.size()], true);
    return NodeConnection(shard.primary, false);
  }

  void Route(const CallPtr& call, std::vector<std::size_t> indices) {
    if (call->finished) return;
    if (!map_) return Later(call, std::move(indices), std::chrono::milliseconds(0));
    std::vector<std::pair<std::shared_ptr<LoopConnection>, std::vector<std::size_t>>> groups;
    std::shared_ptr<LoopConnection> previous;
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const auto i = indices[k];
      // A command without a key right after one with a key goes with it: WAIT answers for the
      // writes before it on its own connection (redis_replica_acks.hpp).
      auto target = previous && k > 0 && indices[k - 1] + 1 == i && IsFollower(call, i)
                        ? previous
                        : Target(call->commands[i]);
      previous = target;
      auto at = std::ranges::find_if(groups, [&](const auto& g) { return g.first == target; });
      if (at == groups.end())
        groups.emplace_back(std::move(target), std::vector<std::size_t>{i});
      else
        at->second.push_back(i);
    }
    for (auto& [node, group] : groups) SendTo(*node, call, std::move(group), false);
  }

  // A command without a key that follows one with a key in the same call.
  static bool IsFollower(const CallPtr& call, std::size_t i) {
    return i > 0 && !CommandKey(call->commands[i]) && CommandKey(call->commands[i - 1]);
  }

  // Sends the commands `indices` of `call` to `node` (`asking`: each behind ASKING).
  void SendTo(LoopConnection& node, const CallPtr& call, std::vector<std::size_t> indices,
              bool asking) {
    std::vector<std::vector<std::string>> commands;
    for (auto i : indices) {
      if (asking) commands.push_back({"ASKING"});
      commands.push_back(call->commands[i]);
    }
    node.Send(std::move(commands), [self = shared_from_this(), call, indices = std::move(indices),
                                    asking](std::exception_ptr error, Replies replies) mutable {
      if (error) return self->Failed(call, std::move(indices), error);
      self->Answered(call, indices, replies, asking);
    });
  }

  void Answered(const CallPtr& call, const std::vector<std::size_t>& indices, Replies& replies,
                bool asking) {
    std::vector<std::size_t> again, later;
    bool sent_elsewhere = false;  // the command before was redirected
    for (std::size_t k = 0; k < indices.size(); ++k) {
      const auto i = indices[k];
      Reply& reply = replies[asking ? 2 * k + 1 : k];
      // Its follower answered for a node the command no longer runs on.
      if (std::exchange(sent_elsewhere, false) && IsFollower(call, i)) {
        call->Set(i, Reply{Reply::Type::kError, 0, "ERR the command before it was redirected", {}});
        continue;
      }
      const auto redirect = ParseRedirect(reply);
      const bool busy = reply.IsError() &&
                        (reply.str.starts_with("TRYAGAIN") || reply.str.starts_with("CLUSTERDOWN"));
      sent_elsewhere = (redirect || busy) && call->attempts[i] < kMaxRedirects;
      if ((!redirect && !busy) || ++call->attempts[i] > kMaxRedirects) {
        call->Set(i, std::move(reply));
      } else if (busy) {
        later.push_back(i);
      } else if (redirect->ask) {
        SendTo(*NodeConnection(Endpoint(redirect->host, redirect->port), false), call, {i}, true);
      } else {
        map_->Move(redirect->slot, redirect->host, redirect->port);
        again.push_back(i);
        stale_ = true;
      }
    }
    if (!again.empty()) Route(call, std::move(again));
    if (!later.empty()) Later(call, std::move(later), kRetryDelay);
    if (stale_) ScheduleRefresh(std::chrono::milliseconds(0));
  }

  // The node's connection failed: read the table again, and send again what may be.
  void Failed(const CallPtr& call, std::vector<std::size_t> indices, std::exception_ptr error) {
    bool not_sent = false;
    try {
      std::rethrow_exception(error);
    } catch (const NotSent&) {
      not_sent = true;
    } catch (...) {
    }
    std::vector<std::size_t> again;
    for (auto i : indices) {
      if (not_sent || detail::IsReadOnly(call->commands[i]))
        again.push_back(i);
      else
        return call->Finish(error);
    }
    last_error_ = error;
    Later(call, std::move(again), kRetryDelay);
  }

  // Routes `indices` of `call` once the table was read again (after `delay`), or fails the
  // call when its time is up by then.
  void Later(const CallPtr& call, std::vector<std::size_t> indices,
             std::chrono::milliseconds delay) {
    waiting_.push_back({call, std::move(indices)});
    ScheduleRefresh(delay);
  }

  void ScheduleRefresh(std::chrono::milliseconds delay) {
    if (refreshing_) return;
    refreshing_ = true;
    stale_ = false;
    refresh_timer_.expires_after(delay);
    refresh_timer_.async_wait([self = shared_from_this()](boost::system::error_code) {
      self->AskForSlots(self->Candidates(), 0, "");
    });
  }

  // The nodes to ask for the slot table: the primaries known, their replicas, then the seeds.
  std::vector<RedisEndpoint> Candidates() const {
    std::vector<RedisEndpoint> out;
    if (map_) {
      for (const auto& shard : map_->shards()) out.push_back(shard.primary);
      for (const auto& shard : map_->shards())
        out.insert(out.end(), shard.replicas.begin(), shard.replicas.end());
    }
    for (const auto& [host, port] : config_.seeds) out.push_back(Endpoint(host, port));
    return out;
  }

  void AskForSlots(std::vector<RedisEndpoint> candidates, std::size_t next, std::string errors) {
    if (next == candidates.size()) return Refreshed(std::move(errors));
    const RedisEndpoint ep = candidates[next];
    NodeConnection(ep, false)->Send(
        {{"CLUSTER", "SLOTS"}},
        [self = shared_from_this(), candidates = std::move(candidates), next,
         errors = std::move(errors), ep](std::exception_ptr error, Replies replies) mutable {
          std::optional<SlotMap> map;
          if (!error) map = SlotMap::FromClusterSlots(replies.front(), self->Endpoint("", 0));
          if (map) {
            self->map_ = std::move(map);
            self->read_at_ = Clock::now();
            return self->Refreshed("");
          }
          errors += ep.host + ":" + std::to_string(ep.port) + ": ";
          try {
            if (error) std::rethrow_exception(error);
            errors += replies.front().IsError() ? replies.front().str : "cluster not ready";
          } catch (const std::exception& e) {
            errors += e.what();
          }
          errors += "; ";
          self->AskForSlots(std::move(candidates), next + 1, std::move(errors));
        });
  }

  void Refreshed(std::string errors) {
    refreshing_ = false;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    const auto now = Clock::now();
    for (auto& w : waiting) {
      if (w.call->finished) continue;
      if (!map_) {
        w.call->Finish(Unavailable("redis cluster: no node gave the slot table (" + errors + ")"));
        continue;
      }
      if (now >= w.call->deadline) {
        w.call->Finish(last_error_ ? last_error_
                                   : Unavailable("redis cluster: not served within " +
                                                 std::to_string(timeout_.count()) + " ms"));
        continue;
      }
      Route(w.call, std::move(w.indices));
    }
    if (stale_) ScheduleRefresh(std::chrono::milliseconds(0));
  }

  asio::io_context& loop_;
  RedisClient& client_;
  asio::thread_pool& resolver_;
  const ClusterConfig config_;
  const std::chrono::milliseconds timeout_;
  asio::steady_timer refresh_timer_;
  std::optional<SlotMap> map_;
  Clock::time_point read_at_;  // of map_
  std::unordered_map<std::string, std::shared_ptr<LoopConnection>> nodes_;
  std::vector<Waiting> waiting_;
  bool refreshing_ = false, stale_ = false;
  std::size_t next_replica_ = 0;
  std::exception_ptr last_error_;
};

}  // namespace

struct RedisLoopClient::State {
  static inline std::atomic<std::uint64_t> next_id{0};
  const std::uint64_t id = next_id.fetch_add(1);
  RedisClient& client;
  LoopFn this_loop;
  asio::thread_pool resolver{1};  // asks the sentinels, off every loop
  std::mutex mu;
  std::unordered_map<asio::io_context*, std::shared_ptr<RedisConnection>> connections;
};

RedisLoopClient::RedisLoopClient(RedisClient& client, LoopFn this_loop)
    : state_(new State{.client = client, .this_loop = std::move(this_loop)}) {}

RedisLoopClient::~RedisLoopClient() { state_->resolver.join(); }

RedisConnection& RedisLoopClient::Here() {
  // One lookup per thread and client after the first.
  thread_local std::vector<std::pair<std::uint64_t, RedisConnection*>> cache;
  for (const auto& [owner, connection] : cache)
    if (owner == state_->id) return *connection;
  asio::io_context* loop = state_->this_loop();
  if (!loop) throw std::logic_error("a Redis loop connection is used off its event loop");
  std::lock_guard lock(state_->mu);
  auto& connection = state_->connections[loop];
  if (!connection && state_->client.cluster())
    connection = std::make_shared<ClusterConnection>(*loop, state_->client, state_->resolver);
  else if (!connection)
    connection = std::make_shared<LoopConnection>(*loop, state_->client, state_->resolver);
  cache.emplace_back(state_->id, connection.get());
  return *connection;
}

struct BlockingClusterPipe::State {
  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> work{loop.get_executor()};
  asio::thread_pool resolver{1};  // LoopConnection's; cluster nodes never use it
  std::shared_ptr<ClusterConnection> connection;
  std::thread thread;
};

BlockingClusterPipe::BlockingClusterPipe(RedisClient& client) : state_(new State) {
  state_->connection = std::make_shared<ClusterConnection>(state_->loop, client, state_->resolver);
  state_->thread = std::thread([s = state_.get()] { s->loop.run(); });
}

BlockingClusterPipe::~BlockingClusterPipe() {
  state_->work.reset();
  state_->loop.stop();
  state_->thread.join();
  state_->resolver.join();
}

std::vector<Reply> BlockingClusterPipe::Pipeline(std::vector<std::vector<std::string>> commands) {
  std::promise<Replies> answer;
  auto replies = answer.get_future();
  asio::post(state_->loop, [this, &answer, &commands] {
    state_->connection->Send(std::move(commands), [&answer](std::exception_ptr e, Replies r) {
      if (e)
        answer.set_exception(e);
      else
        answer.set_value(std::move(r));
    });
  });
  return replies.get();
}

}  // namespace count::redis
