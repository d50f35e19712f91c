// count-system: every service in one process behind one port, routed as the public
// ingress routes them, on SQLite in a data directory. Wiring only.
//
//   count-system up [--port N] [--data DIR]
#include <openssl/rand.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>

#include "events/in_process_bus.hpp"
#include "events/outbox_relay.hpp"
#include "management_api.hpp"
#include "read_api.hpp"
#include "runtime/auth.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "sqlite/sqlite_stores.hpp"
#include "write_api.hpp"

namespace {

using namespace count;
namespace fs = std::filesystem;

constexpr std::string_view kUsage =
    "usage: count-system up [--port N] [--data DIR]\n"
    "  Runs every service in one process on SQLite in DIR (default ./count-data),\n"
    "  listening on port N (default 8080, or $PORT).\n";

std::string RandomKey() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no randomness available");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "cms_";
  for (unsigned char b : bytes) {
    key.push_back(kHex[b >> 4]);
    key.push_back(kHex[b & 15]);
  }
  return key;
}

// COUNT_ADMIN_KEY if set (`from_env` is set); else the key stored in
// DIR/admin.key, generated on first start.
std::string AdminKey(const runtime::Env& env, const fs::path& data, bool& from_env) {
  from_env = false;
  if (auto key = env.Get("COUNT_ADMIN_KEY")) {
    from_env = true;
    return *key;
  }
  const auto file = data / "admin.key";
  std::string key;
  if (std::ifstream in(file); in && std::getline(in, key) && !key.empty()) return key;
  key = RandomKey();
  {
    std::ofstream out(file, std::ios::trunc);
    out << key << "\n";
    if (!out) throw runtime::ConfigError("cannot write " + file.string());
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return key;
}

int Up(int argc, char** argv) {
  std::string data = "count-data";
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--port" || arg == "--data") && i + 1 < argc) {
      if (arg == "--port")
        ::setenv("PORT", argv[++i], 1);  // the flag wins over $PORT
      else
        data = argv[++i];
    } else {
      throw runtime::ConfigError("unknown argument '" + std::string(arg) + "'\n" +
                                 std::string(kUsage));
    }
  }
  runtime::Env env;
  runtime::Service service("count-system", 8080, env);
  std::error_code ec;
  fs::create_directories(data, ec);
  if (ec) throw runtime::ConfigError("cannot create data directory " + data + ": " + ec.message());

  bool key_from_env = false;
  const auto admin_key = AdminKey(env, data, key_from_env);
  service.api_keys().Add("admin", {std::string(runtime::kScopeAdmin)},
                         runtime::Sha256Hex(admin_key));

  sqlite::SqliteDatabase db(fs::path(data) / "count.db");
  sqlite::SqliteCountInfoStore info(db);
  sqlite::SqliteCountValueStore values(db, "count-system");
  // Ingress routing: GET /api/v1/counts* → read, other /api/v1 → write, /management → management.
  write::WriteApi write_api(
      values, info, {.auto_create = env.Bool("COUNT_AUTO_CREATE", false), .strong_read = false});
  read::ReadApi read_api(values);
  management::ManagementApi management_api(info, values);
  write_api.Register(service.router());
  read_api.Register(service.router());
  management_api.Register(service.router());
  service.AddReadinessCheck("sqlite", [&] { return values.Ping(); });

  // Events: the outbox (written with each change) → the in-process bus → subscribers.
  sqlite::SqliteEventOutbox outbox(db);
  events::InProcessBus bus;
  events::OutboxRelay relay(outbox, bus, {.on_error = [](const std::exception& e) {
                              runtime::Log::Write(runtime::Level::kWarn, "relay", e.what());
                            }});
  relay.Start();
  service.AddShutdownHook([&] { relay.Stop(); });

  return service.Run([&](int port) {
    // A key the operator chose (COUNT_ADMIN_KEY) is never echoed; a generated one is shown
    // once per start so a newcomer can use it, and kept in the data directory.
    const std::string shown = key_from_env ? "$COUNT_ADMIN_KEY" : admin_key;
    std::cerr << "\ncount-system is up: http://127.0.0.1:" << port << "\n"
              << "  data directory: " << fs::absolute(data).string() << "\n"
              << "  admin API key:  "
              << (key_from_env ? "from COUNT_ADMIN_KEY" : admin_key + " (kept in admin.key)")
              << "\n  try: curl -H \"Authorization: Bearer " << shown
              << "\" http://127.0.0.1:" << port << "/management/api/v1/counts\n\n";
  });
}

}  // namespace

int main(int argc, char** argv) {
  return runtime::RunMain("count-system", [&] {
    if (argc < 2 || std::string_view(argv[1]) != "up") {
      std::cerr << kUsage;
      return argc < 2 || std::string_view(argv[1]) == "--help" ? 0 : 2;
    }
    return Up(argc, argv);
  });
}
