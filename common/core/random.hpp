#pragma once
// Random bytes from the kernel's CSPRNG (getrandom(2)), and the per-thread generator that event
// ids, trace ids and span ids draw from.
#include <sys/random.h>

#include <array>
#include <random>
#include <span>
#include <stdexcept>

namespace count::core {

inline void FillRandom(std::span<unsigned char> bytes) {
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n < 0) throw std::runtime_error("getrandom failed");
    filled += static_cast<std::size_t>(n);
  }
}

// Ids need to be unique, not secret: a generator per thread, seeded from the kernel's CSPRNG,
// costs a few ns an id where a getrandom(2) per id cost 1-4 µs (bench/trace) on the write path,
// which makes an event id per change and a span id per request.
inline std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 generator = [] {
    std::array<unsigned char, 32> seed_bytes;
    FillRandom(seed_bytes);
    std::seed_seq seed(seed_bytes.begin(), seed_bytes.end());
    return std::mt19937_64(seed);
  }();
  return generator;
}

}  // namespace count::core
