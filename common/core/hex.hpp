#pragma once
// Lower-case hexadecimal text of bytes (digests, random ids and keys).
#include <span>
#include <string>

namespace count::core {

inline std::string ToHex(std::span<const unsigned char> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

}  // namespace count::core
