// Last-Event-ID (and ?countIds=) → live::LiveHub::Subscribe, the resume-or-snapshot rule of
// the live stream, after a fuzzed history of events through a small replay window.
//
// Input (FuzzedDataProvider): the window size, events (counter, type, value; ids e0, e1, ...),
// the ?countIds= text, the Last-Event-ID header (an arbitrary string, or one of the ids),
// then more events. Invariants, against a model of the window: a Last-Event-ID inside it
// replays exactly the later events of the wanted counters, in order; any other (unknown,
// evicted, garbage, absent) gets one "initial" frame whose id is the newest event's and
// whose counts and missing together name every wanted counter; events after subscribing
// arrive in order; every frame is well formed and its data parses as JSON.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <map>

#include "api/count_json.hpp"
#include "harness/api_harness.hpp"
#include "live_hub.hpp"

namespace count::fuzz {
namespace {

constexpr std::string_view kCounters[] = {"a", "b", "c.d", "e:f"};

struct Frame {
  std::string id, event, data;
};

std::vector<Frame> Frames(std::string_view text) {
  std::vector<Frame> frames;
  while (!text.empty()) {
    const auto end = text.find("\n\n");
    if (end == std::string_view::npos) Fail("an unterminated frame", text);
    std::string_view block = text.substr(0, end);
    text.remove_prefix(end + 2);
    Frame f;
    while (!block.empty()) {
      const auto nl = block.find('\n');
      const auto line = block.substr(0, nl);
      block.remove_prefix(nl == std::string_view::npos ? block.size() : nl + 1);
      if (line.starts_with("id: "))
        f.id = line.substr(4);
      else if (line.starts_with("event: "))
        f.event = line.substr(7);
      else if (line.starts_with("data: "))
        f.data = line.substr(6);
      else if (!line.starts_with("retry: ") && !line.starts_with(":"))
        Fail("an unknown line in a frame", line);
    }
    if (f.event.empty() && f.data.empty()) continue;  // retry only
    boost::system::error_code ec;
    boost::json::parse(f.data, ec);
    if (ec) Fail("frame data is not JSON", f.data);
    frames.push_back(std::move(f));
  }
  return frames;
}

// What the hub was sent, to predict what a subscriber sees.
struct Model {
  std::size_t window;
  std::vector<core::Event> sent;

  bool InWindow(std::size_t i) const { return i + window >= sent.size(); }
};

core::Event NextEvent(FuzzedDataProvider& in, std::size_t n) {
  core::Event e;
  e.event_id = "e" + std::to_string(n);
  e.count_id = kCounters[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kCounters) - 1)];
  e.type = in.PickValueInArray(
      {core::EventType::kCreated, core::EventType::kUpdated, core::EventType::kDeleted});
  e.value = in.ConsumeIntegral<std::int64_t>();
  if (in.ConsumeBool()) e.delta = in.ConsumeIntegral<std::int64_t>();
  e.timestamp = kNow + std::chrono::milliseconds(n);
  return e;
}

void Run(FuzzedDataProvider& in) {
  MemoryValues values;  // empty: a snapshot shows what the events said, or "missing"
  Model model{in.ConsumeIntegralInRange<std::size_t>(0, 8), {}};
  live::LiveHub hub(values, {.replay_events = model.window, .client_queue_bytes = 1 << 20});
  // In batches of up to three, as the bus delivers them.
  const auto publish = [&](std::size_t count) {
    const std::size_t first = model.sent.size();
    for (std::size_t i = 0; i < count; ++i) model.sent.push_back(NextEvent(in, first + i));
    for (std::size_t i = first; i < model.sent.size(); i += 3)
      hub.Publish(
          std::span(model.sent).subspan(i, std::min<std::size_t>(3, model.sent.size() - i)));
  };
  publish(in.ConsumeIntegralInRange<std::size_t>(0, 20));
  const std::size_t seen = model.sent.size();

  std::vector<std::string> ids;
  if (api::ParseIdList(in.ConsumeRandomLengthString(64), "countIds", 100, ids)) ids = {"a"};
  std::optional<std::string> last_event_id;
  switch (in.ConsumeIntegralInRange(0, 2)) {
    case 0:
      break;
    case 1:
      last_event_id = in.ConsumeRandomLengthString(40);
      break;
    default:
      last_event_id = "e" + std::to_string(in.ConsumeIntegralInRange<std::size_t>(0, seen + 1));
  }
  const std::vector<std::string> wanted_list = ids;
  auto stream = hub.Subscribe(std::move(ids), last_event_id);
  if (!stream) Fail("no stream below the subscriber limit", "");
  publish(in.ConsumeIntegralInRange<std::size_t>(0, 10));

  bool closed = false;
  const auto frames = Frames(stream->Take(closed));
  if (closed) Fail("a stream closed without reason", "");
  const auto wanted = [&](const core::Event& e) {
    return std::find(wanted_list.begin(), wanted_list.end(), e.count_id) != wanted_list.end();
  };

  // Where the replay starts: after the Last-Event-ID when the window still holds it.
  std::optional<std::size_t> resume_at;
  for (std::size_t i = 0; last_event_id && i < seen; ++i)
    if (model.sent[i].event_id == *last_event_id && i + model.window >= seen) resume_at = i + 1;
  std::size_t next = 0;  // frames[next]
  if (!resume_at) {
    if (frames.empty() || frames[0].event != "initial")
      Fail("no initial frame without a resumable Last-Event-ID", last_event_id.value_or("-"));
    const std::string expected_id =
        seen == 0 || model.window == 0 ? "start" : model.sent[seen - 1].event_id;
    if (frames[0].id != expected_id) Fail("the initial frame's id", frames[0].id);
    std::map<std::string, std::int64_t> latest;
    for (std::size_t i = 0; i < seen; ++i) {
      if (model.sent[i].type == core::EventType::kDeleted)
        latest.erase(model.sent[i].count_id);
      else
        latest[model.sent[i].count_id] = model.sent[i].value;
    }
    const auto data = boost::json::parse(frames[0].data).as_object();
    const auto& counts = data.at("counts").as_array();
    const auto& missing = data.at("missing").as_array();
    if (counts.size() + missing.size() != wanted_list.size())
      Fail("the snapshot does not name every counter", frames[0].data);
    std::size_t c = 0;
    for (const auto& id : wanted_list) {
      if (!latest.contains(id)) continue;
      if (c >= counts.size() || counts[c].at("countId").as_string() != id ||
          counts[c].at("value").as_int64() != latest[id])
        Fail("the snapshot disagrees with the events", frames[0].data);
      ++c;
    }
    resume_at = seen;
    next = 1;
  }
  for (std::size_t i = *resume_at; i < model.sent.size(); ++i) {
    if (!wanted(model.sent[i])) continue;
    if (next >= frames.size() || frames[next].id != model.sent[i].event_id ||
        frames[next].event != core::ToString(model.sent[i].type))
      Fail("an event missing or out of order", model.sent[i].event_id);
    ++next;
  }
  if (next != frames.size()) Fail("a frame nobody asked for", frames[next].id);
}

}  // namespace
}  // namespace count::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  count::fuzz::Run(in);
  return 0;
}
