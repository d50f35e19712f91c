#pragma once
// PostgreSQL's binary wire format (network byte order) for the types the stores move in
// bulk: the columns of a PgFormat::kBinary result. Input of another shape — a column of
// another type — throws std::runtime_error; nothing is read past the bytes given.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace count::postgres {

// bigint
std::int64_t DecodeInt8(std::string_view bytes);

// A one-dimensional bigint[] (or an empty one) into `out`, replacing its contents; a NULL
// element is nullopt.
void DecodeInt8Array(std::string_view bytes, std::vector<std::optional<std::int64_t>>& out);

}  // namespace count::postgres
