// What tracing adds to each request on the write path (docs/BENCHMARKS.md, "Tracing"): the
// host continues or starts the trace, formats it for the response header and for each
// mutation's outbox entry, and adds its fields to the request's log line. Prints ns per
// request; a figure, not a pass/fail threshold.
#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>

#include "core/trace.hpp"
#include "runtime/log.hpp"

namespace count {
namespace {

template <class Fn>
double NanosPerCall(int n, Fn&& fn) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) fn(i);
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start)
             .count() /
         n;
}

TEST(TraceBench, PerRequestCost) {
  constexpr int kN = 200'000;
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
      boost::json::object fields{{"method", "POST"},
                                 {"path", "/api/v1/counts/page.views/increment"},
                                 {"status", 200},
                                 {"duration_ms", 0.1},
                                 {"request_id", "0000000100000000001"}};
      if (traced) runtime::AddTraceFields(fields, trace);
      sink += boost::json::serialize(fields).size();
    });
  };
  const double plain_line = line(false), traced_line = line(true);
  std::printf(
      "trace per request (ns): parse %.0f, continue (parse + new span id) %.0f, start %.0f, "
      "format %.0f, request log line %.0f -> %.0f with trace fields; per increment: continue + "
      "2 formats + fields = %.0f\n",
      parse, cont, start, format, plain_line, traced_line,
      cont + 2 * format + (traced_line - plain_line));
  EXPECT_GT(sink, 0u);
}

}  // namespace
}  // namespace count
