// What tracing adds to each request on the write path (docs/BENCHMARKS.md, "Tracing"): the
// host continues or starts the trace, formats it for the response header and for each
// mutation's outbox entry, and adds its fields to the request's log line. Prints ns per
// request; a figure, not a pass/fail threshold.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>

#include "core/trace.hpp"
#include "runtime/log.hpp"

namespace count {
namespace {

// The best of 10 rounds: on a shared machine the least disturbed round is the cost.
template <class Fn>
double NanosPerCall(int n, Fn&& fn) {
  double best = 1e300;
  for (int round = 0; round < 10; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) fn(i);
    const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
    best = std::min(best, took.count() / n);
  }
  return best;
}

TEST(TraceBench, PerRequestCost) {
  constexpr int kN = 20'000;
  const std::string header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  std::size_t sink = 0;
  const double parse =
      NanosPerCall(kN, [&](int) { sink += core::ParseTraceparent(header)->flags; });
  const double cont = NanosPerCall(kN, [&](int) { sink += core::ContinueOrStart(header).flags; });
  const double start =
      NanosPerCall(kN, [&](int) { sink += core::ContinueOrStart(std::nullopt).span_id[0]; });
  const auto trace = core::ContinueOrStart(header);
  const double format = NanosPerCall(kN, [&](int) { sink += trace.Format().size(); });
  // The request line's object, with and without the two trace fields.
  auto line = [&](bool traced) {
    return NanosPerCall(kN, [&](int) {
      boost::json::object fields({{"method", "POST"},
                                  {"path", "/api/v1/counts/page.views/increment"},
                                  {"status", 200},
                                  {"duration_ms", 0.1},
                                  {"request_id", "0000000100000000001"}},
                                 9);  // as runtime::Service reserves
      if (traced) runtime::AddTraceFields(fields, trace);
      sink += boost::json::serialize(fields).size();
    });
  };
  const double plain_line = line(false), traced_line = line(true);
  std::printf(
      "trace per request (ns, best of 10 rounds): parse %.0f, continue (parse + new span id) "
      "%.0f, start %.0f, format %.0f; request log line %.0f without, %.0f with the trace fields\n",
      parse, cont, start, format, plain_line, traced_line);
  EXPECT_GT(sink, 0u);
}

}  // namespace
}  // namespace count
