#pragma once
// The public APIs of the write, read, management and analysis services on one router over
// in-memory stores, as standalone mounts them, and the invariants every answer must keep.
#include <memory>

#include "analysis_api.hpp"
#include "harness/memory_stores.hpp"
#include "http/router.hpp"
#include "management_module.hpp"
#include "read_module.hpp"
#include "write_module.hpp"

namespace count::fuzz {

// Bearer tokens the harness accepts: "admin-key" (admin), "read-key" (count:read),
// "write-key" (count:write).
class ApiHarness {
 public:
  ApiHarness();
  ApiHarness(const ApiHarness&) = delete;
  ApiHarness& operator=(const ApiHarness&) = delete;

  const http::Router& router() const { return router_; }
  // Dispatches as the server does and checks the answer (aborts on a broken invariant).
  http::Response Handle(http::Request& request);

 private:
  MemoryValues values_;
  MemoryInfo info_;
  MemoryHistory history_;
  http::Router router_;  // before the modules, which register on it
  write::WriteModule write_;
  read::ReadModule read_;
  management::ManagementModule management_;
  analysis::AnalysisApi analysis_;
};

// The invariants of any answer: a known status, never 500 (an exception escaped a handler),
// JSON bodies that parse, problems with a /problems/ type and their own status.
void CheckResponse(const http::Request& request, const http::Response& response);

// Stops the fuzzer with a message: an invariant did not hold.
[[noreturn]] void Fail(std::string_view what, std::string_view detail);

}  // namespace count::fuzz
