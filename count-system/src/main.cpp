// count-system: every service in one process behind one port, routed as the public
// ingress routes them, on SQLite in a data directory. Wiring only.
//
//   count-system up [--port N] [--data DIR]
//   count-system backup --data DIR --to FILE | restore --from FILE --data DIR [--force]
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>

#include "analysis_module.hpp"
#include "dashboard_module.hpp"
#include "history_feed.hpp"
#include "live_module.hpp"
#include "management_module.hpp"
#include "read_module.hpp"
#include "reconcile.hpp"
#include "runtime/auth.hpp"
#include "runtime/log.hpp"
#include "runtime/service.hpp"
#include "sqlite/sqlite_backup.hpp"
#include "sqlite/sqlite_dashboard_store.hpp"
#include "sqlite/sqlite_history_store.hpp"
#include "sqlite/sqlite_loop_store.hpp"
#include "sqlite/sqlite_stores.hpp"
#include "write_module.hpp"

namespace {

using namespace count;
namespace fs = std::filesystem;

constexpr std::string_view kUsage =
    "usage: count-system up [--port N] [--data DIR]\n"
    "         Runs every service in one process on SQLite in DIR (default ./count-data),\n"
    "         listening on port N (default 8080, or $PORT).\n"
    "       count-system reconcile [--data DIR] [--repair]\n"
    "         Reports counters whose history disagrees with their value; --repair\n"
    "         records a correcting event for each. Run it while the system is stopped.\n"
    "       count-system backup [--data DIR] --to FILE\n"
    "         Copies DIR's database to FILE (a new file), consistently, while the system runs.\n"
    "       count-system restore --from FILE [--data DIR] [--force]\n"
    "         Makes DIR's database a copy of the backup FILE, migrated to this version's schema.\n"
    "         Refuses a non-empty DIR unless --force (which keeps admin.key). Stop the system\n"
    "         first. docs/OPERATIONS.md has the whole procedure.\n";

struct Options {
  std::string data = "count-data";
  bool repair = false;
  std::string file;  // backup: --to; restore: --from
  bool force = false;
};

// Flags after the command; --port sets $PORT (the flag wins over the environment).
Options ParseOptions(int argc, char** argv) {
  Options options;
  const std::string_view command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      options.data = argv[++i];
    } else if (command == "up" && arg == "--port" && i + 1 < argc) {
      ::setenv("PORT", argv[++i], 1);
    } else if (command == "reconcile" && arg == "--repair") {
      options.repair = true;
    } else if (((command == "backup" && arg == "--to") ||
                (command == "restore" && arg == "--from")) &&
               i + 1 < argc) {
      options.file = argv[++i];
    } else if (command == "restore" && arg == "--force") {
      options.force = true;
    } else {
      throw runtime::ConfigError("unknown argument '" + std::string(arg) + "'\n" +
                                 std::string(kUsage));
    }
  }
  return options;
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
  key = "cms_" + runtime::RandomHex(24);
  {
    std::ofstream out(file, std::ios::trunc);
    out << key << "\n";
    if (!out) throw runtime::ConfigError("cannot write " + file.string());
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write);
  return key;
}

// Standalone's events (docs/ARCHITECTURE.md, "Events"): the history written in the change's
// own transaction, then the live streams. No outbox and no relay: the history is in the same
// file, so one commit holds a change and its history, exactly once.
class StandaloneEvents final : public sqlite::EventSink {
 public:
  explicit StandaloneEvents(sqlite::SqliteHistoryStore& history) : history_(history) {}
  void Record(std::span<const core::Event> events) override {
    history_.RecordInTransaction(events);
  }
  void Committed(std::span<const core::Event> events) override {
    for (const auto& e : events) runtime::WriteEvent("analysis", "event recorded", e);
    if (live) live->Publish(events);  // SQLite has no sharded parts: it cannot throw
  }
  live::LiveModule* live = nullptr;

 private:
  sqlite::SqliteHistoryStore& history_;
};

// A data directory of an earlier version can hold events its relay had not yet recorded in
// the history (the outbox table): they are recorded once, before anything is served.
void DrainOutbox(sqlite::SqliteDatabase& db, sqlite::SqliteHistoryStore& history) {
  sqlite::SqliteEventOutbox outbox(db);
  for (auto events = outbox.Pending(5'000); !events.empty(); events = outbox.Pending(5'000)) {
    analysis::RecordEvents(history, events);
    outbox.Acknowledge(events);
  }
}

int Reconcile(const Options& options) {
  sqlite::SqliteDatabase db(fs::path(options.data) / "count.db");
  sqlite::SqliteCountInfoStore info(db);
  sqlite::SqliteCountValueStore values(db, "count-system");
  sqlite::SqliteHistoryStore history(db);
  const auto drifts = analysis::Reconcile(info, values, history, options.repair);
  for (const auto& d : drifts)
    std::cout << d.count_id << ": value " << d.value << ", history "
              << (d.history ? std::to_string(*d.history) : std::string("none"))
              << (options.repair ? " (repaired)" : "") << "\n";
  std::cout << drifts.size() << " counter(s) drifted" << (options.repair ? ", repaired" : "")
            << "\n";
  return drifts.empty() || options.repair ? 0 : 1;
}

int Backup(const Options& options) {
  if (options.file.empty())
    throw runtime::ConfigError("backup needs --to FILE\n" + std::string(kUsage));
  const auto report = sqlite::Backup(fs::path(options.data) / "count.db", options.file);
  std::cout << "backed up " << options.data << " to " << options.file << " (" << report.bytes
            << " bytes, schema version " << report.schema_version << ")\n";
  return 0;
}

int Restore(const Options& options) {
  if (options.file.empty())
    throw runtime::ConfigError("restore needs --from FILE\n" + std::string(kUsage));
  const auto report =
      sqlite::Restore(options.file, fs::path(options.data) / "count.db", options.force);
  std::cout << "restored " << options.file << " into " << options.data << " (" << report.bytes
            << " bytes, schema version " << report.backup_version;
  if (report.backup_version != report.schema_version)
    std::cout << " migrated to " << report.schema_version;
  std::cout << ")\n";
  // The backup holds no credentials (docs/OPERATIONS.md, "The admin key after a restore").
  if (!fs::exists(fs::path(options.data) / "admin.key"))
    std::cout << "no admin.key in " << options.data
              << ": `count-system up` generates a new admin key on its first start, unless\n"
                 "COUNT_ADMIN_KEY is set or the old installation's admin.key is copied there\n";
  return 0;
}

int Up(const Options& options) {
  const std::string& data = options.data;
  runtime::Env env;
  runtime::Service service("count-system", 8080, env);
  std::error_code ec;
  fs::create_directories(data, ec);
  if (ec) throw runtime::ConfigError("cannot create data directory " + data + ": " + ec.message());

  bool key_from_env = false;
  const auto admin_key = AdminKey(env, data, key_from_env);
  service.api_keys().Add("admin", {std::string(runtime::kScopeAdmin)},
                         runtime::Sha256Hex(admin_key));

  sqlite::SqliteDatabase db(fs::path(data) / "count.db",
                            {.cache_mb = env.Int("SQLITE_CACHE_MB", 64, 1, 65'536),
                             .mmap_mb = env.Int("SQLITE_MMAP_MB", 256, 0, 1'048'576)});
  sqlite::SqliteCountInfoStore info(db);
  sqlite::SqliteHistoryStore history(db);
  DrainOutbox(db, history);
  StandaloneEvents events(history);
  sqlite::SqliteCountValueStore values(db, "count-system", &events);
  sqlite::SqliteDashboardStore dashboards(db);
  // Before the writer thread (loop_values) starts, and gone only after it stopped.
  live::LiveModule live(service, values, dashboards);
  events.live = &live;
  // Ingress routing: GET /api/v1/counts* → read, other /api/v1 → write, /management → management,
  // /analysis → analysis, /dashboard/api → dashboard provision, /dashboard/events → live updates.
  const auto write_settings = write::WriteSettings::FromEnv(env);
  // One process, one file: an answered write is on disk already.
  if (write_settings.ack_kafka || write_settings.ack_replica)
    throw runtime::ConfigError(
        "WRITE_ACK=kafka and replica need the services (standalone has no Kafka, no replica)");
  sqlite::SqliteLoopCountValueStore loop_values(values);  // writes and reads off the loops
  write::WriteModule write(service.router(), {values, info, &loop_values}, write_settings,
                           /*strong_read=*/false);
  read::ReadModule read(service.router(), values, &loop_values);
  management::ManagementModule management(service.router(), info, values);
  analysis::AnalysisModule analysis(service, history);
  dashboard::DashboardModule dashboard(service.router(), {dashboards, info, values});
  service.router().Add(http::Method::kGet, "/", [](http::Request&) {
    http::Response r{308, "text/plain; charset=utf-8", "", {{"Location", "/management/"}}};
    return r;
  });
  service.AddReadinessCheck("sqlite", [&] { return values.Ping(); });

  return service.Run([&](int port) {
    // A key the operator chose (COUNT_ADMIN_KEY) is never echoed; a generated one is shown
    // once per start so a newcomer can use it, and kept in the data directory.
    const std::string shown = key_from_env ? "$COUNT_ADMIN_KEY" : admin_key;
    std::cerr << "\ncount-system is up: http://127.0.0.1:" << port << "\n"
              << "  web console:    http://127.0.0.1:" << port << "/management/\n"
              << "  API reference:  http://127.0.0.1:" << port << "/docs/\n"
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
    const std::string_view command = argc < 2 ? "" : argv[1];
    if (command == "up") return Up(ParseOptions(argc, argv));
    if (command == "reconcile") return Reconcile(ParseOptions(argc, argv));
    if (command == "backup") return Backup(ParseOptions(argc, argv));
    if (command == "restore") return Restore(ParseOptions(argc, argv));
    std::cerr << kUsage;
    return command.empty() || command == "--help" ? 0 : 2;
  });
}
