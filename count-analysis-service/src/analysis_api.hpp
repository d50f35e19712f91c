#pragma once
// UC-004 over HTTP (docs/API.md, "Analysis"), scope admin, under /analysis/api/v1:
//   GET  series?ids=a,b&from=&to=&unit=   per counter and bucket: t, last, sum, min, max;
//                                         Accept: text/csv → countId,t,last,sum,min,max
//   POST trend | comparison | prediction  {"countIds":[...],"from","to","unit","horizon"?}
//   POST history:import                   {"points":[{"countId","timestamp","value"}]} or
//                                         text/csv with the header countId,timestamp,value
//
// A period is [from, to), RFC 3339; buckets hold the minutes that start inside it. `unit` is
// minute|hour|day|week|month, default hour. Limits: 1-50 counters (comparison 2-50); a period
// of at most 366 days of minutes, 3,660 days of hours, 36,600 days of longer units; at most
// 1,100,000 buckets per answer (counters × buckets in the period); horizon 1-1000 buckets,
// default 10; an import body of 8 MiB. Comparison compares each counter's last value in the
// period (unit does not matter there).
#include "core/history.hpp"
#include "http/router.hpp"

namespace count::analysis {

class AnalysisApi {
 public:
  explicit AnalysisApi(core::HistoryStore& history) : history_(history) {}
  void Register(http::Router& router);

 private:
  http::Response Series(http::Request& request);
  http::Response Trend(http::Request& request);
  http::Response Comparison(http::Request& request);
  http::Response Prediction(http::Request& request);
  http::Response Import(http::Request& request);

  core::HistoryStore& history_;
};

}  // namespace count::analysis
