#pragma once
// The one table from a domain outcome (common/core/problem.hpp) to what HTTP says about it:
// status code, RFC 9457 problem type and title. docs/API.md lists the same types.
#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "core/problem.hpp"

namespace count::http {

struct ProblemType {
  int status;
  std::string_view slug;  // the type is "/problems/<slug>"
  std::string_view title;
};

const ProblemType& TypeOf(core::Outcome outcome);
int StatusOf(const core::Problem& p);
// "/problems/<slug>"
std::string TypeUri(const core::Problem& p);
// The RFC 9457 body: {"type","title","status","detail"}.
boost::json::object ProblemJson(const core::Problem& p);

}  // namespace count::http
