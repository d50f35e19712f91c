#include "postgres/pg_test_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace count::postgres::testing {

namespace {

namespace fs = std::filesystem;

std::string FindBinDir() {
  for (const char* dir :
       {"/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"}) {
    if (::access((std::string(dir) + "/postgres").c_str(), X_OK) == 0) return dir;
  }
  const std::string initdb = count::testing::FindExecutable({"initdb"});
  if (initdb.empty()) throw std::runtime_error("PostgreSQL server binaries (initdb) not found");
  return fs::path(initdb).parent_path().string();
}

// Chowns the tree to the postgres user when running as root.
void GiveToPostgresUser(const fs::path& root) {
  if (::geteuid() != 0) return;
  const passwd* pw = ::getpwnam("postgres");
  if (!pw) throw std::runtime_error("running as root needs the `postgres` system user");
  if (::chown(root.c_str(), pw->pw_uid, pw->pw_gid) != 0)
    throw std::runtime_error("chown " + root.string() + " failed");
  for (const auto& entry : fs::recursive_directory_iterator(root))
    ::chown(entry.path().c_str(), pw->pw_uid, pw->pw_gid);
}

}  // namespace

PostgresServer::PostgresServer() : bin_dir_(FindBinDir()), port_(count::testing::FreePort()) {
  const fs::path pwfile = dir_.path() / "pwfile";
  std::ofstream(pwfile) << kPassword << "\n";
  fs::permissions(dir_.path(),
                  fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  GiveToPostgresUser(dir_.path());
  const int rc = count::testing::Run(
      AsPostgresUser({bin_dir_ + "/initdb", "-D", (dir_.path() / "data").string(), "-U", "postgres",
                      "--pwfile", pwfile.string(), "--auth-local=trust",
                      "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "-N"}),
      dir_.path() / "initdb.log");
  if (rc != 0) {
    std::ifstream in(dir_.path() / "initdb.log");
    std::stringstream log;
    log << in.rdbuf();
    throw std::runtime_error("initdb failed (" + std::to_string(rc) + "):\n" + log.str());
  }
  Start();
}

PostgresServer::~PostgresServer() {
  try {
    Stop();
  } catch (...) {
    // The process object still kills and reaps the server.
  }
}

std::vector<std::string> PostgresServer::AsPostgresUser(std::vector<std::string> argv) const {
  if (::geteuid() != 0) return argv;
  std::vector<std::string> wrapped = {"setpriv", "--reuid=postgres", "--regid=postgres",
                                      "--init-groups", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;  // setpriv execs: the PID we hold is the postmaster's
}

std::string PostgresServer::Log() const {
  std::ifstream in(dir_.path() / "postgres.log");
  std::stringstream log;
  log << in.rdbuf();
  return log.str();
}

void PostgresServer::Start() {
  if (process_ && process_->Running()) return;
  process_ = std::make_unique<count::testing::Process>(
      AsPostgresUser({bin_dir_ + "/postgres", "-D", (dir_.path() / "data").string(), "-p",
                      std::to_string(port_), "-k", dir_.path().string(), "-c",
                      "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                      "synchronous_commit=off", "-c", "full_page_writes=off", "-c",
                      "shared_buffers=16MB", "-c", "max_connections=40"}),
      dir_.path() / "postgres.log");
  const std::string probe =
      "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres connect_timeout=2";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(probe.c_str()) != PQPING_OK) {
    if (!process_->Running() || std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("postgres did not start:\n" + Log());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void PostgresServer::Stop() {
  if (!process_) return;
  process_->Signal(SIGINT);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (process_->Running() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  process_->Stop();
  process_.reset();
}

std::string PostgresServer::Url(std::string_view database) const {
  return "postgresql://postgres:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(port_) +
         "/" + std::string(database);
}

void PostgresServer::Sql(std::string_view database, std::string_view sql) const {
  PGconn* conn = PQconnectdb(Url(database).c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, std::string(sql).c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
      error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  if (!error.empty()) throw std::runtime_error(std::string(sql) + ": " + error);
}

void PostgresServer::CreateDatabase(std::string_view name) const {
  Sql("postgres", "CREATE DATABASE \"" + std::string(name) + "\"");
}

PostgresServer& SharedServer() {
  static PostgresServer server;
  return server;
}

}  // namespace count::postgres::testing
