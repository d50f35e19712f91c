#include "core/event.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace count::core {
namespace {

TEST(Event, JsonRoundTrip) {
  Event e{NewEventId(),         EventType::kUpdated,
          "page.views",         -3,
          9223372036854775807,  *ParseTimestamp("2026-11-22T08:15:30.123Z"),
          "count-write-service"};
  const auto back = EventFromJson(ToJson(e));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->event_id, e.event_id);
  EXPECT_EQ(back->type, e.type);
  EXPECT_EQ(back->count_id, e.count_id);
  EXPECT_EQ(back->delta, -3);
  EXPECT_EQ(back->value, 9223372036854775807);
  EXPECT_EQ(back->timestamp, e.timestamp);
  EXPECT_EQ(back->source, e.source);
  e.delta.reset();
  EXPECT_NE(ToJson(e).find("\"type\":\"count_updated\""), std::string::npos);
  EXPECT_EQ(ToJson(e).find("delta"), std::string::npos);
  EXPECT_EQ(ToJson(e).find("purgeHistory"), std::string::npos);
  EXPECT_FALSE(back->purge_history);

  e.type = EventType::kDeleted;
  e.purge_history = true;
  EXPECT_TRUE(EventFromJson(ToJson(e))->purge_history);
  EXPECT_FALSE(EventFromJson(ToJson(e))->sub_counter);
}

// An event of a sharded counter's part names it (docs/API.md, "Hot counters"): sub-counter i,
// or -1 for the counter's own key; older readers simply ignore the member.
TEST(Event, SubCounterRoundTrips) {
  Event e{"e1",
          EventType::kUpdated,
          "hot",
          1,
          7,
          *ParseTimestamp("2026-11-22T08:15:30.123Z"),
          "count-write-service"};
  for (int sub : {0, 5, Event::kOwnKey}) {
    e.sub_counter = sub;
    const std::string json = ToJson(e);
    EXPECT_NE(json.find(R"("subCounter":)" + std::to_string(sub)), std::string::npos) << json;
    EXPECT_EQ(EventFromJson(json)->sub_counter, sub);
    Event odd = e;  // Boost.JSON's path too
    odd.source = "caf\u00e9";
    EXPECT_EQ(EventFromJson(ToJson(odd))->sub_counter, sub);
  }
}

// Strings that need escaping take Boost.JSON's path and come back intact; both paths give the
// same members.
TEST(Event, JsonEscapesWhatNeedsIt) {
  Event plain{"e1",
              EventType::kUpdated,
              "page.views",
              2,
              5,
              *ParseTimestamp("2026-11-22T08:15:30.123Z"),
              "count-write-service"};
  Event odd = plain;
  odd.event_id = "e\"1\\";
  odd.source = "caf\u00e9\n";
  for (const Event* e : {&plain, &odd}) {
    const std::string json = ToJson(*e);
    const auto back = EventFromJson(json);
    ASSERT_TRUE(back) << json;
    EXPECT_EQ(back->event_id, e->event_id);
    EXPECT_EQ(back->source, e->source);
    EXPECT_EQ(back->count_id, e->count_id);
    EXPECT_EQ(back->delta, 2);
    EXPECT_EQ(back->value, 5);
  }
  EXPECT_EQ(ToJson(plain),
            R"({"eventId":"e1","type":"count_updated","countId":"page.views","value":5,)"
            R"("timestamp":"2026-11-22T08:15:30.123Z","source":"count-write-service","delta":2})");
}

TEST(Event, RejectsMalformed) {
  for (
      const char* bad :
      {"", "[]", "{}",
       R"({"eventId":"x","type":"nope","countId":"a","value":1,"timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_updated","countId":"-a","value":1,"timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_updated","countId":"a","value":1.5,"timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_updated","countId":"a","value":1,"delta":"2","timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_updated","countId":"a","value":1,"purgeHistory":true,"timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_deleted","countId":"a","value":1,"purgeHistory":1,"timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_updated","countId":"a","value":1,"subCounter":-2,"timestamp":"2026-11-22T08:15:30.123Z"})",
       R"({"eventId":"x","type":"count_updated","countId":"a","value":1,"subCounter":"1","timestamp":"2026-11-22T08:15:30.123Z"})"})
    EXPECT_FALSE(EventFromJson(bad)) << bad;
}

TEST(Event, IdsAreUniqueHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(NewEventId());
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(ids.begin()->size(), 32u);
}

// Ids of later events sort after earlier ones (by their millisecond), so the history's
// event-id index grows at its end; they carry the UUIDv7 version and variant.
TEST(Event, IdsGrowWithTime) {
  const std::string first = NewEventId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::string second = NewEventId();
  EXPECT_LT(first, second);
  EXPECT_EQ(first[12], '7');
  EXPECT_NE(std::string("89ab").find(first[16]), std::string::npos);
}

// Answers each position as `durable` says (a part not listed is not durable), recording what
// it was asked.
class RecordingAcks : public EventAcks {
 public:
  std::vector<std::string> asked;
  std::vector<std::string> durable;
  void Await(std::string position, std::function<void(bool)> done) override {
    asked.push_back(position);
    done(std::ranges::find(durable, position) != durable.end());
  }
};

TEST(AcksOfEachPart, OnePartGoesStraightThroughAndSeveralMustAllBeDurable) {
  RecordingAcks acks;
  AcksOfEachPart each(acks);
  std::vector<bool> answers;
  auto record = [&](bool d) { answers.push_back(d); };

  acks.durable = {"0@e/1-0"};
  each.Await("0@e/1-0", record);
  EXPECT_EQ(acks.asked, std::vector<std::string>{"0@e/1-0"});
  EXPECT_EQ(answers, std::vector<bool>{true});

  acks.asked.clear();
  answers.clear();
  acks.durable = {"0@e/1-0", "7@e/5-0", "12@e/9-1"};
  each.Await("0@e/1-0 7@e/5-0 12@e/9-1", record);
  EXPECT_EQ(acks.asked, (std::vector<std::string>{"0@e/1-0", "7@e/5-0", "12@e/9-1"}));
  EXPECT_EQ(answers, std::vector<bool>{true});  // once, when the last part is durable

  answers.clear();
  acks.durable = {"0@e/1-0", "12@e/9-1"};
  each.Await("0@e/1-0 7@e/5-0 12@e/9-1", record);
  EXPECT_EQ(answers, std::vector<bool>{false});
}

}  // namespace
}  // namespace count::core
