#include "api/count_json.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace count::api
