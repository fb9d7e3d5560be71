// The recorder's queue (DESIGN.md §9): what an append costs, where it
// waits when the queue is full (its session's own backlog, in order), and
// how parked records move into the queue as the writer frees room. The
// writer's side is in recorder.cc.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/recorder.h"

namespace sallyport::audit {
namespace {

// What an item costs in the queue: its payload plus a fixed overhead.
size_t ItemBytes(const RecorderItem& item) {
  size_t n = 256;
  const v1::RecordingRecord& r = item.record;
  if (r.has_data()) n += r.data().bytes().size();
  if (r.has_request()) {
    n += r.request().summary().size() + r.request().raw().size();
  }
  return n;
}

// Whether data record `item` (of `data_bytes`) may be appended to `into`,
// a record of the same session: same channel, direction and stream, and
// the sum within the coalescing limit.
bool Coalesces(const RecorderItem& into, const RecorderItem& item,
               size_t data_bytes, size_t limit) {
  return data_bytes > 0 && into.record.has_data() &&
         into.record.channel_id() == item.record.channel_id() &&
         into.record.data().direction() == item.record.data().direction() &&
         into.record.data().ssh_stream() == item.record.data().ssh_stream() &&
         into.record.data().bytes().size() + data_bytes <=
             std::min(limit, kDefaultCoalesceDataBytes);
}

// Appends data record `item` (of `data_bytes`) to `into` (Coalesces).
void AppendData(RecorderItem& into, const RecorderItem& item,
                size_t data_bytes) {
  into.record.mutable_data()->mutable_bytes()->append(
      item.record.data().bytes());
  into.bytes += data_bytes;
}

}  // namespace

size_t SpoolRecorder::queued_bytes() const {
  base::SteadyMutexLock lock(&mu_);
  return queue_bytes_ + parked_bytes_;
}

void SpoolRecorder::RaiseMaxSessionBacklogBytes(size_t bytes) {
  base::SteadyMutexLock lock(&mu_);
  max_session_backlog_bytes_ = std::max(max_session_backlog_bytes_, bytes);
}

size_t SpoolRecorder::parked_bytes() const {
  base::SteadyMutexLock lock(&mu_);
  return parked_bytes_;
}

absl::StatusOr<bool> SpoolRecorder::Enqueue(Item item, bool coalesce) {
  SessionRecording& s = *item.session;
  const size_t data_bytes =
      item.record.has_data() ? item.record.data().bytes().size() : 0;
  base::SteadyMutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the recorder is stopping");
  // A record the session's backlog could never hold (a limit below a
  // packet's size, tests) is refused whatever the queue's state. Not the
  // session's end (once, and small): a session whose backlog is at its
  // limit ends (failed) with everything it had queued written.
  item.bytes = ItemBytes(item);
  if (!item.record.has_session_end() &&
      item.bytes > max_session_backlog_bytes_) {
    return SessionBacklogFull();
  }
  // Behind its own parked records: in order.
  if (!s.parked_.empty()) return Park(std::move(item), coalesce, data_bytes);
  Item* tail = s.tail_generation_ == queue_generation_ ? s.tail_ : nullptr;
  if (coalesce && tail != nullptr &&
      Coalesces(*tail, item, data_bytes, options_.coalesce_data_bytes) &&
      queue_bytes_ + data_bytes <= options_.max_queue_bytes) {
    AppendData(*tail, item, data_bytes);
    queue_bytes_ += data_bytes;
    BacklogChanged();
    return false;
  }
  // Something is queued or being written (its pass frees room and
  // unparks): what does not fit waits for it.
  if (queue_bytes_ > 0 &&
      queue_bytes_ + item.bytes > options_.max_queue_bytes) {
    return Park(std::move(item), /*coalesce=*/false, data_bytes);
  }
  queue_bytes_ += item.bytes;
  queue_.push_back(std::move(item));
  s.tail_ = &queue_.back();
  s.tail_generation_ = queue_generation_;
  BacklogChanged();
  return true;
}

absl::StatusOr<bool> SpoolRecorder::Park(Item item, bool coalesce,
                                         size_t data_bytes) {
  SessionRecording& s = *item.session;
  if (coalesce && !s.parked_.empty() &&
      Coalesces(s.parked_.back(), item, data_bytes,
                options_.coalesce_data_bytes)) {
    if (s.parked_bytes_ + data_bytes > max_session_backlog_bytes_) {
      return SessionBacklogFull();
    }
    AppendData(s.parked_.back(), item, data_bytes);
    s.parked_bytes_ += data_bytes;
    parked_bytes_ += data_bytes;
    BacklogChanged();
    return false;
  }
  if (!item.record.has_session_end() &&
      s.parked_bytes_ + item.bytes > max_session_backlog_bytes_) {
    return SessionBacklogFull();
  }
  s.parked_bytes_ += item.bytes;
  parked_bytes_ += item.bytes;
  if (s.parked_.empty()) parked_.push_back(item.session);  // its turn
  s.parked_.push_back(std::move(item));
  BacklogChanged();
  return true;
}

void SpoolRecorder::Unpark() {
  while (!parked_.empty()) {
    std::shared_ptr<SessionRecording> s = parked_.front();
    Item& next = s->parked_.front();
    if (queue_bytes_ > 0 &&
        queue_bytes_ + next.bytes > options_.max_queue_bytes) {
      break;
    }
    parked_.pop_front();
    const size_t bytes = next.bytes;
    s->parked_bytes_ -= bytes;
    parked_bytes_ -= bytes;
    queue_bytes_ += bytes;
    queue_.push_back(std::move(next));
    s->parked_.pop_front();
    s->tail_ = &queue_.back();
    s->tail_generation_ = queue_generation_;
    if (!s->parked_.empty()) parked_.push_back(std::move(s));  // next turn
  }
}

void SpoolRecorder::BacklogChanged() {
  if (options_.backlog_changed) {
    options_.backlog_changed(
        static_cast<int64_t>(queue_bytes_ + parked_bytes_));
  }
}

absl::Status SpoolRecorder::SessionBacklogFull() const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the session's recording backlog is full (max_session_backlog_bytes ",
      max_session_backlog_bytes_, " bytes waiting for the spool's writer)"));
}

}  // namespace sallyport::audit
