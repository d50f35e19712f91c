// Boost's assertion handler for the fuzz build (BOOST_ENABLE_ASSERT_HANDLER on the server's
// translation unit, fuzz/CMakeLists.txt): every assertion aborts, as without a handler,
// except one that is wrong. Boost 1.81's Beast asserts `n >= 5` in
// basic_parser::parse_chunk_header, but a final chunk may arrive in pieces ("0\r\n", then
// "\r\n") and the code after the assertion handles that (need_more); Beast fixed the
// assertion upstream (boostorg/beast pull request 2861, Boost 1.86). Release builds compile
// assertions out and were never affected.
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (std::string_view(expr) == "n >= 5" &&
      std::string_view(file).ends_with("beast/http/impl/basic_parser.ipp"))
    return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
