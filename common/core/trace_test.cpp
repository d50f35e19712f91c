#include "core/trace.hpp"

#include <gtest/gtest.h>

#include <set>

namespace count::core {
namespace {

constexpr std::string_view kExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Trace, ParsesTheW3cExampleAndFormatsItBack) {
  const auto t = ParseTraceparent(kExample);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->IsValid());
  EXPECT_EQ(t->TraceId(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->SpanId(), "00f067aa0ba902b7");
  EXPECT_EQ(t->flags, 0x01);
  EXPECT_TRUE(t->Sampled());
  EXPECT_EQ(t->Format(), kExample);
  const auto unsampled =
      ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->Sampled());
  EXPECT_EQ(ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe")->flags,
            0xfe);
}

TEST(Trace, RefusesWhatW3cCallsInvalid) {
  for (std::string_view bad : {
           "", "00",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",    // short flags
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // 00 with more
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",  // 00 too long
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // uppercase
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",   // uppercase
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",   // uppercase flags
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",   // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",   // zero parent id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // forbidden version
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // not hex
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",   // separator
           "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",   // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",   // shifted field
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",   // not hex
           " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // leading space
           "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  // later version, no '-'
       })
    EXPECT_FALSE(ParseTraceparent(bad)) << bad;
}

TEST(Trace, ReadsALaterVersionAsVersion00) {
  // W3C: a version above 00 is parsed by 00's fields; what follows them after '-' is ignored.
  for (std::string_view later : {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                 "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what"}) {
    const auto t = ParseTraceparent(later);
    ASSERT_TRUE(t) << later;
    EXPECT_EQ(t->Format(), kExample) << "sent on as version 00";
  }
}

TEST(Trace, AChildSpanKeepsTheTraceAndTheSampledFlagOnly) {
  const auto parent = *ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  const auto child = ChildSpan(parent);
  EXPECT_EQ(child.TraceId(), parent.TraceId());
  EXPECT_NE(child.SpanId(), parent.SpanId());
  EXPECT_EQ(child.flags, kTraceSampled);
  const auto again = ParseTraceparent(child.Format());
  ASSERT_TRUE(again) << child.Format();
  EXPECT_EQ(*again, child);
}

TEST(Trace, ARequestContinuesAValidTraceAndStartsOneOtherwise) {
  const auto continued = ContinueOrStart(kExample);
  EXPECT_EQ(continued.TraceId(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(continued.Sampled());
  std::set<std::string> traces;
  for (std::optional<std::string_view> header :
       {std::optional<std::string_view>{}, std::optional<std::string_view>{"garbage"},
        std::optional<std::string_view>{
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}) {
    const auto started = ContinueOrStart(header);
    ASSERT_TRUE(started.IsValid());
    EXPECT_FALSE(started.Sampled()) << "a started trace is not sampled";
    const auto parsed = ParseTraceparent(started.Format());
    ASSERT_TRUE(parsed) << started.Format();
    EXPECT_EQ(*parsed, started);
    traces.insert(std::string(started.TraceId()));
  }
  EXPECT_EQ(traces.size(), 3u) << "each started trace has its own id";
}

TEST(Trace, NoTraceFormatsAsNothing) {
  EXPECT_FALSE(TraceContext{}.IsValid());
  EXPECT_EQ(TraceContext{}.Format(), "");
}

}  // namespace
}  // namespace count::core
