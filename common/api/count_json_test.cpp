#include "api/count_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdint>

namespace count::api {
namespace {

TEST(ParseObject, ReadsAnObjectAndRefusesWhatIsNotOne) {
  boost::json::object o;
  EXPECT_FALSE(ParseObject(R"({"amount":2,"x":[1.5,{"y":null}]})", false, o));
  EXPECT_EQ(o.at("amount").as_int64(), 2);
  EXPECT_EQ(ParseObject("[1]", false, o)->outcome, core::Outcome::kValidation);
  EXPECT_EQ(ParseObject("{", false, o)->outcome, core::Outcome::kMalformedJson);
  EXPECT_EQ(ParseObject("", false, o)->outcome, core::Outcome::kValidation);
  EXPECT_FALSE(ParseObject("", true, o));
}

// Regression (json_body fuzzer): 1e400 read as infinity, which serialises to no JSON at all.
TEST(ParseObject, RefusesNumbersBeyondADoublesRange) {
  boost::json::object o;
  for (const auto* body : {R"({"value":92200001e000000000182437903})", R"({"a":[{"b":-1e400}]})"}) {
    const auto p = ParseObject(body, false, o);
    ASSERT_TRUE(p) << body;
    EXPECT_EQ(p->outcome, core::Outcome::kMalformedJson) << body;
  }
  EXPECT_FALSE(ParseObject(R"({"value":1e300})", false, o));
}

TEST(RecordText, IsRecordJsonSerialised) {
  core::CountRecord r;
  r.id = "page.views";
  r.value = -42;
  r.created_at = core::Timestamp(std::chrono::milliseconds(1'764'000'000'123));
  r.updated_at = core::Timestamp(std::chrono::milliseconds(1'764'000'001'004));
  const auto same = [](const core::CountRecord& r) {
    EXPECT_EQ(RecordText(r), boost::json::serialize(RecordJson(r))) << r.description;
  };
  same(r);
  for (const char* d : {"", "home \"page\"", "back\\slash", "tab\tnew\nline", "\x01\x7f",
                        "caf\xc3\xa9 \xe2\x82\xac", "\xff lone byte", "</script>"}) {
    r.description = d;
    same(r);
  }
  r.min_value = INT64_MIN;
  r.max_value = INT64_MAX;
  r.sharded = true;
  r.value = 0;
  same(r);

  core::Applied a{"a.b", 7, 1, r.updated_at};
  EXPECT_EQ(AppliedText(a), boost::json::serialize(AppliedJson(a)));
  a.value = INT64_MIN;
  EXPECT_EQ(AppliedText(a), boost::json::serialize(AppliedJson(a)));
}

}  // namespace
}  // namespace count::api
