#pragma once
// Which event loop the calling thread runs: adapters that own one connection per loop (the
// Redis connections, redis/redis_connection.hpp) find theirs with it.
namespace boost::asio {
class io_context;
}

namespace count::http {

// The loop of the calling thread when it is one of a Server's loop threads, else nullptr.
boost::asio::io_context* ThisLoop();

}  // namespace count::http
