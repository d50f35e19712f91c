#include "runtime/service.hpp"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "http/openapi.hpp"
#include "http/server.hpp"
#include "runtime/cpus.hpp"
#include "runtime/log.hpp"

// tcmalloc's, when the binary links it (count_allocator, CMakeLists.txt); null otherwise
// (tests, sanitizer builds). Declared weak here rather than included: the runtime library
// itself does not link tcmalloc.
extern "C" void MallocExtension_ReleaseFreeMemory() __attribute__((weak));

namespace count::runtime {

namespace {

// Hands what the allocator keeps of freed memory back to the system.
void ReleaseFreeMemory() {
  if (MallocExtension_ReleaseFreeMemory != nullptr)
    MallocExtension_ReleaseFreeMemory();
  else
    malloc_trim(0);
}

// SIGTERM and SIGINT, blocked in the calling thread (and so in every thread it starts
// afterwards) so that only Run's sigwait receives them. This must happen before the first
// thread exists: a Redis, relay or Kafka thread with them unblocked would take the signal's
// default action and kill the process without a drain.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  return set;
}

// Every connection is a descriptor, and a live-update stream stays open for hours: the soft
// limit (often 1024) is raised to the hard one, as nginx's worker_rlimit_nofile or Go's
// runtime do, so the hard limit the platform sets is the one that applies.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

Service::Service(std::string name, int default_port, const Env& env)
    : name_(std::move(name)), env_(env) {
  BlockShutdownSignals();  // a service is built before the stores start their threads
  RaiseOpenFileLimit();
  log_level_ = env.Or("LOG_LEVEL", "info");
  Level level;
  try {
    level = ParseLevel(log_level_);
  } catch (const std::invalid_argument& e) {
    throw ConfigError("setting LOG_LEVEL: " + std::string(e.what()));
  }
  char hostname[256] = "unknown";
  ::gethostname(hostname, sizeof hostname - 1);
  pod_ = env.Or("POD_NAME", hostname);
  Log::Configure(level, pod_);
  app_env_ = env.Or("APP_ENV", "local");
  app_version_ = env.Or("APP_VERSION", COUNT_VERSION);
  host_ = env.Or("HOST", "0.0.0.0");
  port_ = static_cast<int>(env.Int("PORT", default_port, 0, 65535));
  const int cores = UsableCpus();
  // One event loop per core (async handlers never block one); blocking handlers (PostgreSQL,
  // SQLite, readiness checks) run on a pool, whose threads bound how many of them are in
  // flight, not how many cores are busy.
  threads_ = static_cast<int>(env.Int("HTTP_THREADS", cores, 1, 256));
  blocking_threads_ =
      static_cast<int>(env.Int("HTTP_BLOCKING_THREADS", std::clamp(4 * cores, 8, 64), 1, 256));
  shutdown_timeout_ = std::chrono::seconds(env.Int("SHUTDOWN_TIMEOUT_SECONDS", 30, 1, 3600));
  shutdown_delay_ = std::chrono::seconds(env.Int("SHUTDOWN_DELAY_SECONDS", 0, 0, 300));
  idle_timeout_ = std::chrono::seconds(env.Int("HTTP_IDLE_TIMEOUT_SECONDS", 60, 1, 3600));
  read_timeout_ = std::chrono::seconds(env.Int("HTTP_READ_TIMEOUT_SECONDS", 10, 1, 600));
  debug_endpoints_ = env.Bool("ENABLE_DEBUG_ENDPOINTS", false);

  std::string keys_json;
  if (auto file = env.Get("COUNT_API_KEYS_FILE")) {
    std::ifstream in(*file);
    if (!in) throw ConfigError("setting COUNT_API_KEYS_FILE: cannot read " + *file);
    std::stringstream ss;
    ss << in.rdbuf();
    keys_json = ss.str();
  } else if (auto inline_keys = env.Get("COUNT_API_KEYS")) {
    keys_json = *inline_keys;
  }
  if (!keys_json.empty()) {
    try {
      api_keys_ = ApiKeys::FromJson(keys_json);
    } catch (const std::invalid_argument& e) {
      throw ConfigError("setting COUNT_API_KEYS: " + std::string(e.what()));
    }
  }
  router_.SetAuthenticator([this](std::string_view key) { return api_keys_.Authenticate(key); });
  RegisterBuiltins();
}

Service::~Service() = default;

void Service::AddReadinessCheck(std::string name, std::function<bool()> check, bool required) {
  checks_.push_back({std::move(name), std::move(check), required});
}

void Service::AddReadinessDetail(std::string name, std::function<boost::json::value()> read) {
  details_.emplace_back(std::move(name), std::move(read));
}

void Service::AddShutdownHook(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }

void Service::RegisterBuiltins() {
  using http::Method;
  using http::Request;
  using http::Response;
  // Liveness answers on the loop: it stays quick while every blocking thread waits.
  auto live = [](Request&, http::Respond respond) {
    respond(Response::Json(200, R"({"status":"ok"})"));
  };
  router_.AddAsync(Method::kGet, "/health", live);
  router_.AddAsync(Method::kGet, "/health/live", live);
  router_.Add(Method::kGet, "/ready", [this](Request&) { return Ready(); });
  router_.Add(Method::kGet, "/health/ready", [this](Request&) { return Ready(); });
  router_.Add(Method::kGet, "/info", [this](Request&) {
    boost::json::object o{{"app_env", app_env_},
                          {"app_version", app_version_},
                          {"log_level", log_level_},
                          {"pod_name", pod_},
                          {"service", name_}};
    return Response::Json(200, boost::json::serialize(o));
  });
  // What /ready answers now, for alerts (docs/OPERATIONS.md, CountServiceNotReady): read
  // at scrape time, so it needs no kubelet to be current.
  metrics_.AddGauge("service_ready", "1 while /ready answers 200, else 0.",
                    [this] { return Ready().status == 200 ? 1.0 : 0.0; });
  router_.Add(Method::kGet, "/metrics", [this](Request&) {
    return Response{200, "text/plain; version=0.0.4; charset=utf-8", metrics_.Render(), {}};
  });
  http::ServeOpenApi(router_, "/openapi.json");  // the routes this process registers
  if (!debug_endpoints_) return;
  // Seed 001's experiment endpoints, for drills only.
  router_.Add(Method::kPost, "/admin/toggle-ready",
              [this](Request& r) {
                const bool unready = !toggled_unready_.load();
                toggled_unready_.store(unready);
                boost::json::object fields{{"request_id", r.request_id}};
                AddTraceFields(fields, r.trace);
                Log::Write(Level::kWarn, "debug",
                           unready ? "readiness toggled off" : "readiness toggled on",
                           std::move(fields));
                return Response::Json(200, unready ? R"({"ready":false})" : R"({"ready":true})");
              },
              {.scope = std::string(kScopeAdmin)});
  router_.Add(
      Method::kGet, "/slow",
      [](Request& r) {
        const auto text = r.Query("seconds").value_or("5");
        int seconds = -1;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
        if (ec != std::errc{} || end != text.data() + text.size() || seconds < 0 || seconds > 60)
          return Response::Problem(core::Validation("seconds must be an integer from 0 to 60"));
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        return Response::Json(200, R"({"message":"Responded after )" + std::to_string(seconds) +
                                       R"( seconds","actual_seconds":)" + std::to_string(seconds) +
                                       "}");
      },
      {.scope = std::string(kScopeAdmin)});
}

http::Response Service::Ready() {
  boost::json::object checks;
  bool ok = !shutting_down_.load() && !toggled_unready_.load();
  for (const auto& [name, check, required] : checks_) {
    bool up = false;
    try {
      up = check();
    } catch (const std::exception&) {
      up = false;
    }
    if (!up) metrics_.CountDependencyError(name);
    checks[name] = up ? "ok" : "failing";
    ok = ok && (up || !required);
  }
  if (toggled_unready_.load()) checks["manual"] = "toggled off";
  boost::json::object body;
  if (ok) {
    body["status"] = "ready";
  } else {
    body["status"] = "not ready";
    body["shutting_down"] = shutting_down_.load();
  }
  body["checks"] = std::move(checks);
  if (!details_.empty()) {
    boost::json::object details;
    for (const auto& [name, read] : details_) {
      try {
        details[name] = read();
      } catch (const std::exception&) {
        details[name] = nullptr;
      }
    }
    body["details"] = std::move(details);
  }
  return http::Response::Json(ok ? 200 : 503, boost::json::serialize(body));
}

void Service::Handle(http::Request& request, http::Respond respond) {
  const auto start = std::chrono::steady_clock::now();
  request.trace = core::ContinueOrStart(request.Header(core::kTraceparentHeader));
  router_.Dispatch(
      request, [this, &request, start, respond = std::move(respond)](http::Response response) {
        response.headers.emplace_back(core::kTraceparentHeader, request.trace.Format());
        Observe(request, response, start);
        respond(std::move(response));
      });
}

void Service::Observe(const http::Request& request, const http::Response& response,
                      std::chrono::steady_clock::time_point start) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.ObserveRequest(request.route, http::ToString(request.method), response.status, seconds);
  const Level level = response.status >= 500 ? Level::kError : Level::kInfo;
  if (Log::Enabled(level)) {
    boost::json::object fields({{"method", http::ToString(request.method)},
                                {"path", request.path},
                                {"status", response.status},
                                {"duration_ms", seconds * 1000.0},
                                {"request_id", request.request_id}},
                               9);  // room for the trace, the key's name and an error
    AddTraceFields(fields, request.trace);
    if (request.principal) fields["api_key"] = request.principal->name;  // the name, never the key
    if (!request.error.empty()) fields["error"] = request.error;
    Log::Write(level, name_, "request", std::move(fields));
  }
}

int Service::Start() {
  if (api_keys_.empty())
    throw ConfigError("required setting COUNT_API_KEYS (or COUNT_API_KEYS_FILE) is not set");
  http::ServerOptions options;
  options.host = host_;
  options.port = port_;
  options.threads = threads_;
  options.blocking_threads = blocking_threads_;
  options.idle_timeout = idle_timeout_;
  options.read_timeout = read_timeout_;
  server_ = std::make_unique<http::Server>(
      options, [this](http::Method m, std::string_view p) { return router_.BodyLimit(m, p); },
      http::Server::AsyncHandleFn(
          [this](http::Request& r, http::Respond respond) { Handle(r, std::move(respond)); }));
  router_.SetRunBlocking(
      [this](std::function<void()> work) { server_->RunBlocking(std::move(work)); });
  try {
    port_ = server_->Start();
  } catch (const std::exception& e) {
    throw ConfigError("cannot listen on " + host_ + ":" + std::to_string(port_) + ": " + e.what());
  }
  metrics_.AddGauge("http_open_connections", "Open client connections.",
                    [this] { return double(server_->OpenConnections()); });
  auto config = env_.Effective();
  config["service"] = name_;
  config["port"] = port_;
  config["threads"] = threads_;
  config["blocking_threads"] = blocking_threads_;
  Log::Write(Level::kInfo, name_, "listening", std::move(config));
  return port_;
}

bool Service::Shutdown() {
  if (!server_) return true;
  shutting_down_.store(true);
  server_->BeginDrain();
  Log::Write(Level::kInfo, name_, "draining",
             {{"in_flight", server_->InFlight()},
              {"timeout_s", static_cast<std::int64_t>(shutdown_timeout_.count())}});
  if (shutdown_delay_.count() > 0) std::this_thread::sleep_for(shutdown_delay_);
  const bool drained = server_->WaitIdle(shutdown_timeout_);
  if (!drained)
    Log::Write(Level::kWarn, name_, "shutdown timeout reached with requests in flight",
               {{"in_flight", server_->InFlight()}});
  for (auto& hook : hooks_) hook();
  server_->Stop();
  Log::Write(Level::kInfo, name_, "stopped");
  return drained;
}

int Service::Run(const std::function<void(int port)>& on_started) {
  const sigset_t set = BlockShutdownSignals();
  const int port = Start();
  if (on_started) on_started(port);
  // The allocator keeps what a burst of requests freed (tcmalloc in its caches and page heap,
  // glibc in its per-thread arenas); once no client has been connected for a second, it is
  // handed back to the system (idle RSS after load).
  constexpr timespec kTick{1, 0};
  int sig = -1, quiet_ticks = 0;
  while ((sig = sigtimedwait(&set, nullptr, &kTick)) < 0) {
    if (server_->OpenConnections() > 0) {
      quiet_ticks = 0;
    } else if (++quiet_ticks == 1) {
      ReleaseFreeMemory();
    }
  }
  Log::Write(Level::kInfo, name_, "signal received, shutting down",
             {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  Shutdown();
  return 0;
}

int RunMain(std::string_view service, const std::function<int()>& body) {
  try {
    return body();
  } catch (const ConfigError& e) {
    Log::Write(Level::kError, service, e.what());
    std::cerr << service << ": configuration error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    Log::Write(Level::kError, service, std::string("fatal: ") + e.what());
    std::cerr << service << ": fatal: " << e.what() << std::endl;
    return 1;
  }
}

}  // namespace count::runtime
