#include "storage/issuance_options.h"

#include "absl/strings/str_cat.h"

namespace sallyport::storage {

absl::Status IssuanceOptions::Validate() const {
  if (serial_block < 1 || serial_block > kMaxSerialBlock) {
    return absl::InvalidArgumentError(
        absl::StrCat("serial_block must be 1..", kMaxSerialBlock));
  }
  if (group_commit_max_batch < 1 ||
      group_commit_max_batch > kMaxGroupCommitBatch) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group_commit_max_batch must be 1..", kMaxGroupCommitBatch));
  }
  if (group_commit_max_wait < absl::ZeroDuration() ||
      group_commit_max_wait > kMaxGroupCommitWait) {
    return absl::InvalidArgumentError(
        absl::StrCat("group_commit_max_wait must be 0..",
                     absl::FormatDuration(kMaxGroupCommitWait)));
  }
  return absl::OkStatus();
}

}  // namespace sallyport::storage
