// How a Store backend makes certificate issuance cheap (issue 11): serials
// taken from the database in blocks, and certificate records with their
// audit events written by group commit. Both keep every issued certificate
// durable before it is handed out.
#ifndef SALLYPORT_STORAGE_ISSUANCE_OPTIONS_H_
#define SALLYPORT_STORAGE_ISSUANCE_OPTIONS_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace sallyport::storage {

// Named limits on the options below.
inline constexpr int kMaxSerialBlock = 65536;
inline constexpr int kMaxGroupCommitBatch = 4096;
inline constexpr absl::Duration kMaxGroupCommitWait = absl::Seconds(10);

struct IssuanceOptions {
  // Serials AllocateSerial takes from the database at a time (one
  // transaction per block). Blocks are disjoint across store instances and
  // processes; the unused rest of a block is skipped when the store closes.
  // 1..kMaxSerialBlock.
  int serial_block = 256;
  // Most RecordCertificateWithAudit calls committed in one transaction
  // (1 = no batching). 1..kMaxGroupCommitBatch.
  int group_commit_max_batch = 256;
  // How long the leader of a batch waits for it to fill, from the arrival
  // of its oldest call. Zero (the default, and what the CA uses): commit at
  // once; batches still form from the calls that arrive while a commit is in
  // progress, so no call waits longer than one commit. Tests set it long to
  // make a batch form deterministically. 0..kMaxGroupCommitWait.
  absl::Duration group_commit_max_wait = absl::ZeroDuration();

  // kInvalidArgument naming the field unless every value is in range.
  absl::Status Validate() const;
};

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_ISSUANCE_OPTIONS_H_
