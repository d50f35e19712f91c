#pragma once
// Random bytes from the kernel's CSPRNG (getrandom(2)): event ids, trace and span ids.
#include <sys/random.h>

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

}  // namespace count::core
