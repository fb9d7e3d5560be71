// The RecorderTest fixture of the recorder's tests (recorder_test.cc: the
// writer thread over real spool files; recorder_queue_test.cc: its queue
// and the sessions' backlogs; recorder_clock_test.cc: the same across
// wall-clock steps): a spool directory and RecorderOptions, the session
// metadata and data records they append, waits for a record to be written
// or a session closed, and a writer held in a pass (WriterStall,
// HoldTheWriter).
#ifndef SALLYPORT_AUDIT_RECORDER_TEST_FIXTURE_H_
#define SALLYPORT_AUDIT_RECORDER_TEST_FIXTURE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "audit/recorder.h"
#include "audit/spool.h"
#include "gtest/gtest.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {

using sallyport::testing::TempDir;

inline v1::RecordingSession Meta(const std::string& id) {
  v1::RecordingSession s;
  s.set_session_id(id);
  s.set_user("alice");
  s.set_login("ubuntu");
  s.set_host("web01");
  return s;
}

inline v1::RecordingRecord Data(const std::string& bytes) {
  v1::RecordingRecord r;
  r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
  r.mutable_data()->set_bytes(bytes);
  return r;
}

// Waits (up to 60 s) until `s` has written `seq` or failed.
inline bool WaitWritten(SessionRecording& s, uint64_t seq) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    if (s.Written(seq) || !s.status().ok()) return s.Written(seq);
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

// Waits (up to 60 s) until `s`, ended, has closed its spool.
inline bool WaitClosed(SessionRecording& s) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!s.closed() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return s.closed();
}

// The data records' bytes, in order.
inline std::vector<std::string> DataBytes(const SpoolContents& c) {
  std::vector<std::string> data;
  for (const v1::RecordingRecord& r : c.records) {
    if (r.has_data()) data.push_back(r.data().bytes());
  }
  return data;
}

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("rec-recorder");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    options_.spool_dir = dir_->path() + "/spool";
    options_.gateway_id = "gw-1";
    options_.fsync_interval = absl::Milliseconds(50);
    // One record per Append (recorder_test.cc tests coalescing).
    options_.coalesce_data_bytes = 0;
  }
  std::unique_ptr<TempDir> dir_;
  RecorderOptions options_;
};

// A waker that holds the writer thread in its first call until released:
// what is appended meanwhile waits in the queue.
class WriterStall {
 public:
  std::function<void()> Waker() {
    return [state = state_] {
      if (!state->entered.HasBeenNotified()) {
        state->entered.Notify();
        state->release.WaitForNotification();
      }
    };
  }
  void WaitStalled() { state_->entered.WaitForNotification(); }
  void Release() { state_->release.Notify(); }
  ~WriterStall() {
    if (!state_->release.HasBeenNotified()) Release();
  }

 private:
  struct State {
    absl::Notification entered, release;
  };
  // Shared with the waker, which may run after the test's end.
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Sessions "sess-a" and "sess-b" with the writer held (HoldTheWriter) in
// the pass that writes a's record; b's record waits in the queue.
struct HeldWriter {
  std::shared_ptr<SessionRecording> a, b;
  uint64_t b_queued = 0;  // the ticket of b's record
  // Notified when b is woken.
  std::shared_ptr<absl::Notification> b_woken =
      std::make_shared<absl::Notification>();
};

inline void HoldTheWriter(SpoolRecorder& rec, WriterStall& stall,
                          HeldWriter& held) {
  auto a = rec.OpenSession(Meta("sess-a"), absl::Now());
  auto b = rec.OpenSession(Meta("sess-b"), absl::Now());
  ASSERT_TRUE(a.ok() && b.ok());
  held.a = *a;
  held.b = *b;
  held.a->SetWaker(stall.Waker());
  held.b->SetWaker([woken = held.b_woken] {
    if (!woken->HasBeenNotified()) woken->Notify();
  });
  ASSERT_TRUE(held.a->Append(Data("a")).ok());
  stall.WaitStalled();  // the pass that wrote "a" does not end
  absl::StatusOr<uint64_t> queued = held.b->Append(Data("b"));
  ASSERT_TRUE(queued.ok()) << queued.status();
  held.b_queued = *queued;
}

// A recorder started with a test's options whose writer is held
// (HoldTheWriter). The members' order matters: the stall is released (its
// destructor) before the recorder's destructor joins the writer.
struct HeldRecorder {
  std::unique_ptr<SpoolRecorder> rec;
  WriterStall stall;
  HeldWriter held;
};

// Starts `h.rec` with `options` and holds its writer.
inline void StartHeld(const RecorderOptions& options, HeldRecorder& h) {
  absl::StatusOr<std::unique_ptr<SpoolRecorder>> rec =
      SpoolRecorder::Start(options);
  ASSERT_TRUE(rec.ok()) << rec.status();
  h.rec = *std::move(rec);
  HoldTheWriter(*h.rec, h.stall, h.held);
}

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_RECORDER_TEST_FIXTURE_H_
