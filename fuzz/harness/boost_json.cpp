// Boost.JSON compiled here, with the fuzzing instrumentation, so that coverage guides the
// fuzzer through the JSON parser too (the distribution's library is not instrumented).
// These definitions take precedence over the shared library's.
#include <boost/json/src.hpp>
