#pragma once
// Test fixtures: real servers (redis-server, postgres, ...) started from their packages
// on free loopback ports and stopped by PID. Nothing here is used outside tests.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace count::testing {

// A port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
int FreePort();

// A fresh directory under $TMPDIR, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A child process; SIGTERM then SIGKILL on Stop() or destruction.
class Process {
 public:
  // argv[0] is looked up on PATH. Output goes to `log_file` when not empty.
  explicit Process(std::vector<std::string> argv, std::filesystem::path log_file = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Sends SIGTERM, waits up to `grace`, then SIGKILL. Returns the exit status (or -signal).
  int Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  void Kill();  // SIGKILL and reap

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool reaped_ = false;
};

// Waits until a TCP connect to 127.0.0.1:port succeeds.
bool WaitForPort(int port, std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Runs a command to completion; returns its exit code (output to `log_file` if given).
int Run(const std::vector<std::string>& argv, const std::filesystem::path& log_file = {});

// The first existing file among candidates, or the name itself when found on PATH.
std::string FindExecutable(const std::vector<std::string>& candidates);

}  // namespace count::testing
