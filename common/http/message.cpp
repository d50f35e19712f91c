#include "http/message.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "http/problem_types.hpp"

namespace count::http {

std::string_view ToString(Method m) {
  switch (m) {
    case Method::kGet:
      return "GET";
    case Method::kHead:
      return "HEAD";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kPatch:
      return "PATCH";
    case Method::kDelete:
      return "DELETE";
    case Method::kOptions:
      return "OPTIONS";
    case Method::kOther:
      return "OTHER";
  }
  return "OTHER";
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;  // no early exit at the first difference
  for (std::size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool Principal::Has(std::string_view scope) const {
  for (const auto& s : scopes)
    if (s == scope || s == "admin") return true;
  return false;
}

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (IEquals(k, name)) return std::string_view(v);
  return std::nullopt;
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

std::string_view Request::Param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return {};
}

Response Response::Json(int status, std::string body) {
  return Response{status, "application/json", std::move(body), {}};
}

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (c < 0x80)
      len = 1;
    else if (c >= 0xC2 && c <= 0xDF)
      len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
      len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    bool ok = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      ok = k == 1 ? b >= lo && b <= hi : b >= 0x80 && b <= 0xBF;
    }
    if (ok) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the byte that starts no valid sequence
      ++i;
    }
  }
  return out;
}

Response Response::Problem(const core::Problem& p) {
  const int status = StatusOf(p);
  Response r{status, "application/problem+json", boost::json::serialize(ProblemJson(p)), {}};
  if (p.outcome == core::Outcome::kUnauthorized)
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

Response Response::NoContent() { return Response{204, "", "", {}}; }

namespace {
int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out.push_back(c);
  }
  return true;
}
}  // namespace

bool ParseTarget(std::string_view target, std::string& path, Fields& query) {
  const auto q = target.find('?');
  if (!Decode(target.substr(0, q), path, false)) return false;
  if (path.empty() || path.front() != '/') return false;
  query.clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string k, v;
    if (!Decode(pair.substr(0, eq), k, true)) return false;
    if (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), v, true)) return false;
    query.emplace_back(std::move(k), std::move(v));
  }
  return true;
}

bool Stream::Push(std::string_view chunk) {
  std::unique_lock lock(mu_);
  if (closed_ || queued_.size() + chunk.size() > options_.max_queued_bytes) return false;
  const bool was_empty = queued_.empty();
  queued_.append(chunk);
  if (was_empty) Wake(lock);  // otherwise the server has not taken the last wake-up yet
  return true;
}

void Stream::Close(std::string_view last) {
  std::unique_lock lock(mu_);
  if (closed_) return;
  closed_ = true;
  queued_.append(last);
  Wake(lock);
}

bool Stream::Closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void Stream::OnEnd(std::function<void()> on_end) {
  std::unique_lock lock(mu_);
  if (!ended_) {
    on_end_ = std::move(on_end);
    return;
  }
  lock.unlock();
  if (on_end) on_end();
}

void Stream::SetWaker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = std::move(waker);
}

std::string Stream::Take(bool& closed) {
  std::lock_guard lock(mu_);
  closed = closed_;
  return std::exchange(queued_, {});
}

void Stream::End() {
  std::function<void()> on_end;
  {
    std::lock_guard lock(mu_);
    if (ended_) return;
    ended_ = closed_ = true;
    queued_.clear();
    waker_ = nullptr;
    on_end = std::move(on_end_);
  }
  if (on_end) on_end();
}

void Stream::Wake(std::unique_lock<std::mutex>& lock) {
  auto waker = waker_;
  lock.unlock();
  if (waker) waker();
}

}  // namespace count::http
