// Request targets → http::ParseTarget (path and query, percent-decoded) → the handlers that
// read query parameters: ?ids= (api::ParseIdList, also behind the live stream's ?countIds=),
// ?prefix=&limit=&cursor= paging, ?purgeHistory=, the analysis ?ids=&from=&to=&unit=.
//
// Input: "[METHOD ]target", e.g. "GET /api/v1/counts?ids=a,b"; without a known method, GET.
// Invariants: a parsed path starts with '/' and nothing decoded holds a NUL; percent-encoding
// every decoded byte and parsing again gives the same path and query; every answer keeps
// CheckResponse; a 200 from a list answer holds only valid ids, within the limit asked.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>

#include "api/count_json.hpp"
#include "harness/api_harness.hpp"

namespace count::fuzz {
namespace {

std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
        c == '.' || c == '-' || c == '_' || c == ':' || c == ',') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

void CheckRoundTrip(const std::string& path, const http::Fields& query) {
  std::string target = Encode(path);
  for (std::size_t i = 0; i < query.size(); ++i)
    target += (i == 0 ? "?" : "&") + Encode(query[i].first) + "=" + Encode(query[i].second);
  std::string path2;
  http::Fields query2;
  if (!http::ParseTarget(target, path2, query2)) Fail("an encoded target does not parse", target);
  // A key without '=' decodes to an empty value, which encodes back as "k=": the same field.
  if (path2 != path || query2 != query) Fail("a target does not round-trip", target);
}

void CheckList(const http::Request& request, const http::Response& response) {
  if (response.status != 200 || request.path != "/management/api/v1/counts") return;
  const auto body = boost::json::parse(response.body).as_object();
  std::size_t limit = 50;
  if (auto l = request.Query("limit")) limit = std::stoul(std::string(*l));
  if (body.at("items").as_array().size() > limit) Fail("a page beyond its limit", request.target);
}

}  // namespace
}  // namespace count::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace count;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  http::Request request;
  request.method = http::Method::kGet;
  for (auto [name, method] : {std::pair{"GET ", http::Method::kGet},
                              {"DELETE ", http::Method::kDelete},
                              {"POST ", http::Method::kPost},
                              {"HEAD ", http::Method::kHead}}) {
    if (input.starts_with(name)) {
      request.method = method;
      input.remove_prefix(std::string_view(name).size());
      break;
    }
  }
  request.target = std::string(input);
  if (!http::ParseTarget(request.target, request.path, request.query)) return 0;
  if (request.path.empty() || request.path.front() != '/')
    fuzz::Fail("ParseTarget took a path without '/'", request.target);
  if (request.path.find('\0') != std::string::npos)
    fuzz::Fail("a NUL in a decoded path", request.target);
  for (const auto& [k, v] : request.query)
    if (k.find('\0') != std::string::npos || v.find('\0') != std::string::npos)
      fuzz::Fail("a NUL in a decoded query", request.target);
  fuzz::CheckRoundTrip(request.path, request.query);

  // The live stream's ?countIds= goes through the same list rule as ?ids=.
  if (auto ids = request.Query("countIds")) {
    std::vector<std::string> list;
    if (!api::ParseIdList(*ids, "countIds", 100, list))
      for (const auto& id : list)
        if (!core::IsValidCountId(id)) fuzz::Fail("ParseIdList let an invalid id through", id);
  }

  fuzz::ApiHarness api;
  request.request_id = "fuzz";
  request.headers = {{"Authorization", "Bearer admin-key"}};
  const auto response = api.Handle(request);
  fuzz::CheckList(request, response);
  return 0;
}
