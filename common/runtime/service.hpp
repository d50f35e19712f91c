#pragma once
// The host every service binary (and the standalone binary) runs in: common settings,
// API keys, the router with /health, /ready, /info, /metrics and the debug endpoints,
// access logs and metrics per request, and the SIGTERM drain.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/router.hpp"
#include "runtime/auth.hpp"
#include "runtime/config.hpp"
#include "runtime/metrics.hpp"

namespace count::http {
class Server;
}

namespace count::runtime {

class Service {
 public:
  // Reads the common settings (PORT defaulting to `default_port`, HOST, LOG_LEVEL, APP_ENV,
  // APP_VERSION, POD_NAME, HTTP_THREADS, HTTP_BLOCKING_THREADS, SHUTDOWN_TIMEOUT_SECONDS,
  // ENABLE_DEBUG_ENDPOINTS, COUNT_API_KEYS / COUNT_API_KEYS_FILE, ...). Throws ConfigError. Blocks
  // SIGTERM and SIGINT in the calling thread for Run: build the Service before anything starts
  // threads.
  Service(std::string name, int default_port, const Env& env);
  ~Service();

  http::Router& router() { return router_; }
  Metrics& metrics() { return metrics_; }
  ApiKeys& api_keys() { return api_keys_; }
  const Env& env() const { return env_; }
  const std::string& pod() const { return pod_; }

  // A named dependency check for readiness; must answer quickly. A failing check makes the
  // service unready, unless it is not `required`: a dependency the main path serves without
  // (the write service's PostgreSQL) then shows as "failing" while readiness stays 200, so a
  // load balancer does not take away what still works.
  void AddReadinessCheck(std::string name, std::function<bool()> check, bool required = true);
  // A fact shown under "details" in /ready's body (the consumer's lag per partition), read at
  // each request; it never changes readiness. A read that throws shows as null.
  void AddReadinessDetail(std::string name, std::function<boost::json::value()> read);
  // Runs after in-flight requests finished, before the process exits (flush, commit).
  void AddShutdownHook(std::function<void()> hook);

  // Starts serving; returns the bound port.
  int Start();
  // Drains and stops: readiness 503 at once, in-flight requests finish (bounded by
  // SHUTDOWN_TIMEOUT_SECONDS), hooks run, listener closes. Returns true if it drained fully.
  bool Shutdown();
  // Start, wait for SIGTERM or SIGINT, Shutdown. Returns the process exit code.
  // `on_started` runs once the port is bound.
  int Run(const std::function<void(int port)>& on_started = {});

 private:
  void Handle(http::Request& request, http::Respond respond);
  void Observe(const http::Request& request, const http::Response& response,
               std::chrono::steady_clock::time_point start);
  http::Response Ready();
  void RegisterBuiltins();

  std::string name_;
  const Env& env_;
  http::Router router_;
  Metrics metrics_;
  ApiKeys api_keys_;
  std::string host_, app_env_, app_version_, log_level_, pod_;
  int port_ = 0;
  int threads_ = 1, blocking_threads_ = 8;
  std::chrono::seconds shutdown_timeout_{30}, shutdown_delay_{0}, idle_timeout_{60},
      read_timeout_{10};
  bool debug_endpoints_ = false;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> toggled_unready_{false};
  struct Check {
    std::string name;
    std::function<bool()> check;
    bool required;
  };
  std::vector<Check> checks_;
  std::vector<std::pair<std::string, std::function<boost::json::value()>>> details_;
  std::vector<std::function<void()>> hooks_;
  std::unique_ptr<http::Server> server_;
};

// Runs a service's main body: a ConfigError stops the process with exit code 2 and a
// message naming the setting; any other escaping exception exits 1.
int RunMain(std::string_view service, const std::function<int()>& body);

}  // namespace count::runtime
