#include "storage/sql/database.h"

#include "absl/strings/numbers.h"

namespace sallyport::storage::sql {

int64_t Value::AsInt() const {
  switch (kind_) {
    case Kind::kNull:
      return 0;
    case Kind::kInt:
      return int_;
    case Kind::kBytes: {
      int64_t v = 0;
      return absl::SimpleAtoi(bytes_, &v) ? v : 0;
    }
  }
  return 0;
}

bool Value::AsBool() const {
  switch (kind_) {
    case Kind::kNull:
      return false;
    case Kind::kInt:
      return int_ != 0;
    case Kind::kBytes:
      return bytes_ == "t" || bytes_ == "true" || bytes_ == "1";
  }
  return false;
}

}  // namespace sallyport::storage::sql
