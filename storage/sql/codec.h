// Conversions between records and column values: times as microseconds,
// JSON text columns. Internal to //storage.
#ifndef SALLYPORT_STORAGE_SQL_CODEC_H_
#define SALLYPORT_STORAGE_SQL_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/records.h"
#include "storage/sql/database.h"

namespace sallyport::storage::sql {

// Microseconds since the epoch; the infinities map to INT64_MAX / INT64_MIN
// and back.
int64_t TimeToMicros(absl::Time t);
absl::Time MicrosToTime(int64_t us);
// `t` as it will read back from the store.
inline absl::Time TruncateToMicros(absl::Time t) {
  return MicrosToTime(TimeToMicros(t));
}

Param TimeParam(absl::Time t);
// Serials are 1..kMaxSerial, so they fit a signed 64-bit column.
inline Param SerialParam(uint64_t serial) {
  return Param::Int(static_cast<int64_t>(serial));
}
Param OptTimeParam(const std::optional<absl::Time>& t);
absl::Time TimeValue(const Value& v);
std::optional<absl::Time> OptTimeValue(const Value& v);

// roles.spec: logins, hosts, channels and deny rules.
absl::StatusOr<std::string> EncodeRoleSpec(const Role& role);
// Fills those fields of `role`. kDataLoss when the text is not a spec.
// Decoded specs are remembered by their text (the JSON parser was a tenth of
// an issuance's CPU, as every issuance reads the user's roles): at most
// kMaxRememberedRoleSpecs, emptied when full; text that fails to decode is
// not remembered.
absl::Status DecodeRoleSpec(std::string_view json, Role& role);
inline constexpr size_t kMaxRememberedRoleSpecs = 256;
// For tests: how many decoded specs are remembered.
size_t RememberedRoleSpecsForTest();

absl::StatusOr<std::string> EncodeStringList(
    const std::vector<std::string>& values);
absl::StatusOr<std::vector<std::string>> DecodeStringList(
    std::string_view json);

}  // namespace sallyport::storage::sql

#endif  // SALLYPORT_STORAGE_SQL_CODEC_H_
