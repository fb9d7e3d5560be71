// SessionRecording: one session's records on their way into the spool
// (the SpoolRecorder's queue); the recorder itself is in recorder.cc.
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/recorder.h"
#include "base/status_macros.h"

namespace sallyport::audit {

int64_t SessionRecording::OffsetUs(absl::Duration at) const {
  const int64_t us = absl::ToInt64Microseconds(at - start_monotonic_);
  return us < 0 ? 0 : us;
}

absl::StatusOr<uint64_t> SessionRecording::Append(v1::RecordingRecord record) {
  absl::MutexLock lock(&mu_);
  return Queue(std::move(record));
}

absl::StatusOr<uint64_t> SessionRecording::Queue(v1::RecordingRecord record) {
  if (!status_.ok()) return status_;
  if (ended_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the recording of session ", session_id_, " ended"));
  }
  SpoolRecorder::Item item;
  item.session = shared_from_this();
  item.ticket = queued_ticket_ + 1;
  record.set_session_id(session_id_);
  record.set_seq(queued_seq_ + 1);
  RETURN_IF_ERROR(ValidateRecord(record));
  item.record = std::move(record);
  // Under mu_, so items reach the queue in order.
  ASSIGN_OR_RETURN(const bool queued, recorder_.Enqueue(std::move(item), true));
  if (queued) {
    ++queued_ticket_;
    ++queued_seq_;
  }
  return queued_ticket_;
}

uint64_t SessionRecording::last_queued() const {
  absl::MutexLock lock(&mu_);
  return queued_ticket_;
}

absl::Status SessionRecording::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void SessionRecording::SetWaker(std::function<void()> waker) {
  absl::MutexLock lock(&mu_);
  waker_ = std::move(waker);
}

void SessionRecording::End(v1::SessionStatus status,
                           const std::string& message) {
  v1::RecordingRecord r;
  r.set_offset_us(OffsetUs(recorder_.clock().Monotonic()));
  r.mutable_session_end()->set_status(status);
  r.mutable_session_end()->set_message(
      message.size() > kMaxRecordSummaryBytes
          ? message.substr(0, kMaxRecordSummaryBytes)
          : message);
  absl::MutexLock lock(&mu_);
  if (ended_) return;
  ended_ = true;
  end_offset_us_ = r.offset_us();
  if (!status_.ok()) return;
  r.set_session_id(session_id_);
  r.set_seq(queued_seq_ + 1);
  if (!ValidateRecord(r).ok()) {
    r.mutable_session_end()->clear_message();
  }
  SpoolRecorder::Item item;
  item.session = shared_from_this();
  item.ticket = queued_ticket_ + 1;
  item.record = std::move(r);
  absl::StatusOr<bool> queued = recorder_.Enqueue(std::move(item), false);
  if (queued.ok()) {
    ++queued_seq_;
    ++queued_ticket_;
  } else {
    // The writer closes the file without an end record.
    status_ = queued.status();
  }
}

bool SessionRecording::closed() const { return closed_.load(); }

}  // namespace sallyport::audit
