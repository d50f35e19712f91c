#pragma once
// A real PostgreSQL for integration tests: initdb into a temporary directory, started on a
// free loopback port, stopped by PID. When the tests run as root (CI), initdb and postgres
// run as the `postgres` system user, since PostgreSQL refuses to run as root.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "testing/process.hpp"

namespace count::postgres::testing {

class PostgresServer {
 public:
  PostgresServer();  // initdb + Start()
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Starts on the same port and data directory; returns once it accepts connections.
  void Start();
  // Fast shutdown (SIGINT): clients are disconnected; returns once the server exited.
  void Stop();

  int port() const { return port_; }
  // The superuser's password; TCP connections authenticate with SCRAM.
  static constexpr std::string_view kPassword = "pw-Secr3t-9z";
  // postgresql://postgres:<password>@127.0.0.1:<port>/<database>
  std::string Url(std::string_view database) const;
  // Runs one SQL statement as the superuser (e.g. CREATE DATABASE); throws on failure.
  void Sql(std::string_view database, std::string_view sql) const;
  void CreateDatabase(std::string_view name) const;

 private:
  std::vector<std::string> AsPostgresUser(std::vector<std::string> argv) const;
  std::string Log() const;

  count::testing::TempDir dir_;
  std::string bin_dir_;
  int port_ = 0;
  std::unique_ptr<count::testing::Process> process_;
};

// The server every test of this binary shares, started on first use.
PostgresServer& SharedServer();

}  // namespace count::postgres::testing
