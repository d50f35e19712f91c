#include "postgres/pg_binary.hpp"

#include <boost/endian/conversion.hpp>
#include <stdexcept>

namespace count::postgres {
namespace {

constexpr std::uint32_t kInt8Oid = 20;  // pg_type.oid of bigint

[[noreturn]] void Malformed(const char* what) {
  throw std::runtime_error(std::string("PostgreSQL binary value: ") + what);
}

// Reads big-endian integers from the front of `bytes`, checking that they are there.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  std::int32_t Int32() { return boost::endian::load_big_s32(Take(4)); }
  std::int64_t Int64() { return boost::endian::load_big_s64(Take(8)); }
  bool done() const { return bytes_.empty(); }

 private:
  const unsigned char* Take(std::size_t n) {
    if (bytes_.size() < n) Malformed("truncated");
    const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data());
    bytes_.remove_prefix(n);
    return p;
  }
  std::string_view bytes_;
};

}  // namespace

std::int64_t DecodeInt8(std::string_view bytes) {
  if (bytes.size() != 8) Malformed("a bigint is 8 bytes");
  return Reader(bytes).Int64();
}

void DecodeInt8Array(std::string_view bytes, std::vector<std::optional<std::int64_t>>& out) {
  // array_send: dimensions, has-null flag, element type; per dimension its length and lower
  // bound; per element its length (-1: NULL) and bytes.
  out.clear();
  Reader in(bytes);
  const std::int32_t dimensions = in.Int32();
  in.Int32();  // whether any element is NULL: the lengths say it too
  if (static_cast<std::uint32_t>(in.Int32()) != kInt8Oid) Malformed("not a bigint[]");
  if (dimensions == 0) {
    if (!in.done()) Malformed("trailing bytes");
    return;
  }
  if (dimensions != 1) Malformed("not one-dimensional");
  const std::int32_t length = in.Int32();
  in.Int32();  // lower bound
  if (length < 0) Malformed("negative length");
  out.reserve(static_cast<std::size_t>(length));
  for (std::int32_t i = 0; i < length; ++i) {
    const std::int32_t size = in.Int32();
    if (size == -1) {
      out.emplace_back(std::nullopt);
    } else {
      if (size != 8) Malformed("a bigint element is 8 bytes");
      out.emplace_back(in.Int64());
    }
  }
  if (!in.done()) Malformed("trailing bytes");
}

}  // namespace count::postgres
