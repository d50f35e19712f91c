#include "redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <new>
#include <optional>
#include <stdexcept>
#include <thread>

#include "core/ports.hpp"
#include "redis/hiredis_reply.hpp"
#include "redis/redis_connection.hpp"

namespace count::redis {
namespace {

using Clock = std::chrono::steady_clock;
using core::StoreUnavailable;

constexpr std::chrono::milliseconds kMinBackoff{20};
constexpr std::chrono::milliseconds kMaxBackoff{500};
constexpr std::chrono::milliseconds kSentinelTimeout{500};
constexpr int kDefaultSentinelPort = 26379;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// A whole decimal number in [min, max], or nullopt.
std::optional<int> ParseInt(std::string_view text, int min, int max) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

std::string Address(const std::string& host, int port) { return host + ":" + std::to_string(port); }

// A connected context with connect and socket timeouts set; throws StoreUnavailable.
ContextPtr ConnectTo(const std::string& host, int port, std::chrono::milliseconds timeout) {
  ContextPtr ctx(redisConnectWithTimeout(host.c_str(), port, ToTimeval(timeout)));
  if (!ctx) throw StoreUnavailable("redis: out of memory connecting to " + Address(host, port));
  if (ctx->err)
    throw StoreUnavailable("redis: cannot connect to " + Address(host, port) + ": " + ctx->errstr);
  redisSetTimeout(ctx.get(), ToTimeval(timeout));
  redisEnableKeepAlive(ctx.get());
  ctx->reader->fn = &detail::reply_functions;  // replies come out as Reply (Read)
  return ctx;
}

void Append(redisContext* ctx, const std::vector<std::string>& args) {
  auto& a = detail::Argv::Of(args);
  redisAppendCommandArgv(ctx, a.argc(), a.argv.data(), a.lens.data());
}

// Reads one reply; false when the connection failed (ctx->errstr says why).
bool Read(redisContext* ctx, Reply& out) {
  void* raw = nullptr;
  if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) return false;
  out = detail::TakeReply(raw);
  return true;
}

// One command on a private context (connection setup, sentinel queries).
Reply Call(redisContext* ctx, const std::vector<std::string>& args) {
  Append(ctx, args);
  Reply reply;
  if (!Read(ctx, reply))
    throw StoreUnavailable("redis: " + args.front() + " failed: " + std::string(ctx->errstr));
  return reply;
}

// SIGPIPE from a write to a closed socket would kill the process; the I/O threads block
// it so the write fails with EPIPE instead.
void BlockSigpipe() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

std::exception_ptr Unavailable(std::string message) {
  return std::make_exception_ptr(StoreUnavailable(std::move(message)));
}

}  // namespace

RedisEndpoint ParseRedisUrl(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) throw std::invalid_argument("redis URL is malformed: " + parsed.error().message());
  const boost::urls::url_view url = *parsed;
  if (url.scheme() != "redis")
    throw std::invalid_argument("redis URL must start with redis:// (scheme '" +
                                std::string(url.scheme()) + "')");
  if (url.has_query() || url.has_fragment())
    throw std::invalid_argument("redis URL must not have a query or a fragment");

  RedisEndpoint ep;
  ep.host = url.host_type() == boost::urls::host_type::ipv6 ? url.host_address() : url.host();
  if (ep.host.empty()) throw std::invalid_argument("redis URL has no host");
  if (url.has_port()) {
    auto port = ParseInt(url.port(), 1, 65535);
    if (!port) throw std::invalid_argument("redis URL port must be 1-65535");
    ep.port = *port;
  }
  if (url.has_userinfo()) {
    if (!url.has_password() || url.password().empty())
      throw std::invalid_argument(
          "redis URL user info needs a password: 'redis://:password@host' or "
          "'redis://user:password@host'");
    ep.user = url.user();
    ep.password = url.password();
  }
  std::string_view path = url.encoded_path();
  if (!path.empty() && path != "/") {
    auto db = ParseInt(path.substr(1), 0, 1 << 20);
    if (!db) throw std::invalid_argument("redis URL path must be a database number, like /0");
    ep.db = *db;
  }
  return ep;
}

namespace {

// "host[:port],host[:port]" (blanks around items ignored); `what` names an item in errors.
std::vector<std::pair<std::string, int>> ParseHostPorts(std::string_view host_ports,
                                                        int default_port, std::string_view what) {
  std::vector<std::pair<std::string, int>> out;
  while (!host_ports.empty()) {
    const auto comma = host_ports.find(',');
    std::string_view item = host_ports.substr(0, comma);
    host_ports = comma == std::string_view::npos ? "" : host_ports.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    const auto colon = item.rfind(':');
    std::string host(item.substr(0, colon));
    int port = default_port;
    if (colon != std::string_view::npos) {
      auto parsed = ParseInt(item.substr(colon + 1), 1, 65535);
      if (!parsed)
        throw std::invalid_argument(std::string(what) + " '" + std::string(item) +
                                    "': port must be 1-65535");
      port = *parsed;
    }
    if (host.empty())
      throw std::invalid_argument(std::string(what) + " '" + std::string(item) + "': no host");
    out.emplace_back(std::move(host), port);
  }
  if (out.empty()) throw std::invalid_argument(std::string(what) + " list is empty");
  return out;
}

}  // namespace

SentinelConfig ParseSentinelConfig(std::string_view host_ports, std::string master_name) {
  if (master_name.empty()) throw std::invalid_argument("sentinel master name is empty");
  SentinelConfig config;
  config.master_name = std::move(master_name);
  config.sentinels = ParseHostPorts(host_ports, kDefaultSentinelPort, "sentinel");
  return config;
}

ClusterConfig ParseClusterNodes(std::string_view host_ports) {
  ClusterConfig config;
  config.seeds = ParseHostPorts(host_ports, 6379, "cluster node");
  return config;
}

// A command waiting for its reply. `sent` and `cancelled` are guarded by the owning
// connection's mutex; `retried` is touched by its I/O thread only.
struct Pending {
  std::vector<std::string> args;
  std::promise<Reply> promise;
  Clock::time_point deadline;
  bool sent = false;
  bool cancelled = false;
  bool retried = false;
};
using PendingPtr = std::shared_ptr<Pending>;

// One server connection owned by one I/O thread. The thread takes every queued command,
// appends them all, then reads all replies; commands submitted meanwhile wait for the
// next batch.
class RedisClient::Connection {
 public:
  explicit Connection(RedisClient& owner) : owner_(owner), thread_([this] { Run(); }) {}

  ~Connection() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  std::vector<Reply> Execute(std::vector<std::vector<std::string>> commands) {
    const auto deadline = Clock::now() + owner_.options_.timeout;
    std::vector<PendingPtr> items;
    std::vector<std::future<Reply>> futures;
    for (auto& args : commands) {
      auto p = std::make_shared<Pending>();
      p->args = std::move(args);
      p->deadline = deadline;
      futures.push_back(p->promise.get_future());
      items.push_back(std::move(p));
    }
    {
      std::lock_guard lock(mu_);
      queue_.insert(queue_.end(), items.begin(), items.end());
    }
    cv_.notify_one();

    for (auto& f : futures) f.wait_until(deadline);
    {
      // Whatever was not sent by now never will be: take it back and report.
      std::lock_guard lock(mu_);
      bool unsent = false;
      for (auto& p : items) {
        if (!p->sent) {
          p->cancelled = true;
          unsent = true;
        }
      }
      if (unsent)
        throw StoreUnavailable("redis: command not sent within " +
                               std::to_string(owner_.options_.timeout.count()) + " ms" +
                               (last_error_.empty() ? "" : " (" + last_error_ + ")"));
    }
    std::vector<Reply> replies;
    replies.reserve(futures.size());
    for (auto& f : futures) replies.push_back(f.get());
    return replies;
  }

 private:
  void Run() {
    BlockSigpipe();
    auto backoff = kMinBackoff;
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) break;
      if (!ctx_) {
        lock.unlock();
        std::string error = Connect();
        lock.lock();
        last_error_ = error;
        if (!error.empty()) {
          std::erase_if(queue_, [](const PendingPtr& p) { return p->cancelled; });
          cv_.wait_for(lock, backoff, [&] { return stop_; });
          backoff = std::min(backoff * 2, kMaxBackoff);
          continue;
        }
        backoff = kMinBackoff;
      }
      std::vector<PendingPtr> batch;
      const auto now = Clock::now();
      for (auto& p : queue_) {
        if (p->cancelled) continue;
        if (now >= p->deadline) {
          p->promise.set_exception(Unavailable("redis: command not sent in time"));
          continue;
        }
        p->sent = true;
        batch.push_back(std::move(p));
      }
      queue_.clear();
      if (batch.empty()) continue;
      lock.unlock();
      SendAndReceive(batch);
      lock.lock();
    }
    for (auto& p : queue_)
      if (!p->cancelled) p->promise.set_exception(Unavailable("redis: client closed"));
    queue_.clear();
  }

  // Resolves, connects, authenticates and selects; returns why it failed, or "".
  std::string Connect() {
    try {
      RedisEndpoint ep = owner_.Resolve();
      auto ctx = ConnectTo(ep.host, ep.port, owner_.options_.timeout);
      if (!ep.password.empty()) {
        std::vector<std::string> auth{"AUTH"};
        if (!ep.user.empty()) auth.push_back(ep.user);
        auth.push_back(ep.password);
        Reply r = Call(ctx.get(), auth);
        if (r.IsError())
          return "redis: AUTH refused by " + Address(ep.host, ep.port) + ": " + r.str;
      }
      if (ep.db != 0) {
        Reply r = Call(ctx.get(), {"SELECT", std::to_string(ep.db)});
        if (r.IsError()) return "redis: SELECT refused: " + r.str;
      }
      if (owner_.use_sentinel_) {
        // The sentinels may still name a master that was just demoted.
        Reply r = Call(ctx.get(), {"ROLE"});
        if (r.type != Reply::Type::kArray || r.elements.empty() || r.elements[0].str != "master")
          return "redis: " + Address(ep.host, ep.port) + " is not a master";
      }
      ctx_ = std::move(ctx);
      std::lock_guard lock(owner_.current_mu_);
      owner_.current_ = std::move(ep);
      return {};
    } catch (const StoreUnavailable& e) {
      return e.what();
    }
  }

  void SendAndReceive(std::vector<PendingPtr>& batch) {
    for (auto& p : batch) Append(ctx_.get(), p->args);
    std::vector<PendingPtr> retry;
    std::size_t i = 0;
    for (; i < batch.size(); ++i) {
      Reply reply;
      if (!Read(ctx_.get(), reply)) break;
      auto& p = batch[i];
      if (owner_.use_sentinel_ && !p->retried && detail::IsRetriedAfterFailover(reply)) {
        p->retried = true;  // the server refused it: safe to send again to the new master
        retry.push_back(p);
        continue;
      }
      p->promise.set_value(std::move(reply));
    }
    std::string error;
    if (i < batch.size()) {
      error = "redis: connection lost: " + std::string(ctx_->errstr);
      for (; i < batch.size(); ++i) {
        auto& p = batch[i];
        if (!p->retried && detail::IsReadOnly(p->args)) {
          p->retried = true;
          retry.push_back(p);
        } else {
          p->promise.set_exception(Unavailable(error));
        }
      }
    }
    if (!error.empty() || !retry.empty()) ctx_.reset();  // reconnect (and re-resolve)
    std::lock_guard lock(mu_);
    if (!error.empty()) last_error_ = error;
    for (auto it = retry.rbegin(); it != retry.rend(); ++it) {
      (*it)->sent = false;
      queue_.push_front(*it);
    }
  }

  RedisClient& owner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PendingPtr> queue_;
  bool stop_ = false;
  std::string last_error_;
  ContextPtr ctx_;      // I/O thread only
  std::thread thread_;  // last: starts once everything above exists
};

RedisClient::RedisClient(RedisEndpoint endpoint, RedisClientOptions options)
    : RedisClient(std::move(endpoint), {}, false, options) {}

RedisClient::RedisClient(SentinelConfig sentinel, RedisClientOptions options)
    : RedisClient({}, std::move(sentinel), true, options) {}

RedisClient::RedisClient(ClusterConfig cluster, RedisClientOptions options)
    : RedisClient({}, {}, false, options, std::move(cluster)) {}

RedisClient::RedisClient(RedisEndpoint endpoint, SentinelConfig sentinel, bool use_sentinel,
                         RedisClientOptions options, std::optional<ClusterConfig> cluster)
    : endpoint_(std::move(endpoint)),
      sentinel_(std::move(sentinel)),
      use_sentinel_(use_sentinel),
      cluster_(std::move(cluster)),
      options_(options) {
  if (options_.pool_size == 0) throw std::invalid_argument("redis pool size must be at least 1");
  if (use_sentinel_ && sentinel_.sentinels.empty())
    throw std::invalid_argument("redis sentinel list is empty");
  if (cluster_ && cluster_->seeds.empty())
    throw std::invalid_argument("redis cluster node list is empty");
  if (cluster_) {
    cluster_pipe_ = std::make_unique<BlockingClusterPipe>(*this);
    return;
  }
  for (std::size_t i = 0; i < options_.pool_size; ++i)
    connections_.push_back(std::make_unique<Connection>(*this));
}

RedisClient::~RedisClient() {
  connections_.clear();
  cluster_pipe_.reset();
}

Reply RedisClient::Command(std::vector<std::string> args) {
  std::vector<std::vector<std::string>> commands;
  commands.push_back(std::move(args));
  return std::move(Pipeline(std::move(commands)).front());
}

std::vector<Reply> RedisClient::Pipeline(std::vector<std::vector<std::string>> commands) {
  if (commands.empty()) return {};
  if (cluster_pipe_) return cluster_pipe_->Pipeline(std::move(commands));
  auto& connection = *connections_[next_.fetch_add(1) % connections_.size()];
  return connection.Execute(std::move(commands));
}

bool RedisClient::Ping() {
  try {
    Reply r = Command({"PING"});
    return r.type == Reply::Type::kStatus && r.str == "PONG";
  } catch (const core::StoreUnavailable&) {
    return false;
  }
}

RedisEndpoint RedisClient::CurrentEndpoint() const {
  std::lock_guard lock(current_mu_);
  return current_;
}

RedisEndpoint RedisClient::Resolve() {
  if (cluster_) throw StoreUnavailable("redis: a cluster has no one endpoint to connect to");
  if (!use_sentinel_) return endpoint_;
  const auto timeout = std::min(options_.timeout, kSentinelTimeout);
  std::string errors;
  for (const auto& [host, port] : sentinel_.sentinels) {
    try {
      auto ctx = ConnectTo(host, port, timeout);
      Reply r = Call(ctx.get(), {"SENTINEL", "get-master-addr-by-name", sentinel_.master_name});
      if (r.type == Reply::Type::kArray && r.elements.size() == 2) {
        if (auto master_port = ParseInt(r.elements[1].str, 1, 65535))
          return RedisEndpoint{r.elements[0].str, *master_port, sentinel_.user, sentinel_.password,
                               sentinel_.db};
      }
      errors += Address(host, port) + ": " + (r.IsError() ? r.str : "no such master") + "; ";
    } catch (const StoreUnavailable& e) {
      errors += std::string(e.what()) + "; ";
    }
  }
  throw StoreUnavailable("redis: no sentinel named master '" + sentinel_.master_name +
                         "': " + errors);
}

namespace detail {

namespace {

// Where the value of `task` goes: a new root, or its slot in the array that holds it (sized
// when that array was read, so the address is stable). Called from C: nothing may throw out.
Reply* Place(const redisReadTask* task) noexcept {
  if (task->parent == nullptr) return new (std::nothrow) Reply;
  return &static_cast<Reply*>(task->parent->obj)->elements[static_cast<std::size_t>(task->idx)];
}

void* CreateString(const redisReadTask* task, char* str, std::size_t len) {
  Reply* r = Place(task);
  if (r == nullptr) return nullptr;
  r->type = task->type == REDIS_REPLY_ERROR    ? Reply::Type::kError
            : task->type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                               : Reply::Type::kString;
  try {
    r->str.assign(str, len);
  } catch (const std::bad_alloc&) {
    return nullptr;  // hiredis reports out of memory
  }
  return r;
}

void* CreateArray(const redisReadTask* task, int elements) {
  Reply* r = Place(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::kArray;
  try {
    r->elements.resize(static_cast<std::size_t>(elements));
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  return r;
}

void* CreateInteger(const redisReadTask* task, long long value) {
  Reply* r = Place(task);
  if (r == nullptr) return nullptr;
  r->type = Reply::Type::kInteger;
  r->integer = value;
  return r;
}

void* CreateNil(const redisReadTask* task) { return Place(task); }

// hiredis frees only roots (a reply it gives up on); a root owns its elements.
void FreeObject(void* reply) { delete static_cast<Reply*>(reply); }

}  // namespace

redisReplyObjectFunctions reply_functions{CreateString, CreateArray, CreateInteger, CreateNil,
                                          FreeObject};

ReaderPtr NewReader() {
  ReaderPtr reader(redisReaderCreateWithFunctions(&reply_functions));
  if (!reader) throw std::bad_alloc();
  return reader;
}

bool IsReadOnly(const std::vector<std::string>& args) {
  static constexpr std::string_view kReadOnly[] = {"GET",  "MGET", "HGET", "HGETALL", "HMGET",
                                                   "PING", "XLEN", "ROLE", "EXISTS",  "XRANGE"};
  return !args.empty() &&
         std::ranges::find(kReadOnly, std::string_view(args.front())) != std::end(kReadOnly);
}

bool IsRetriedAfterFailover(const Reply& reply) {
  return reply.IsError() && (StartsWith(reply.str, "READONLY") || StartsWith(reply.str, "LOADING"));
}

}  // namespace detail

}  // namespace count::redis
