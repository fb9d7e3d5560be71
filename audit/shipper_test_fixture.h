// The ShipperTest fixture of the recording shipper's tests
// (shipper_test.cc: shipping, tailing, resuming, backing off, damage and
// limits; shipper_close_test.cc: sessions the shipper closes without their
// end, as interrupted or failed): a spool directory, a real SQLite Store,
// the CA's side of an upload in process (WriterUploader), and helpers that
// write spools and start a Shipper on a fake clock.
#ifndef SALLYPORT_AUDIT_SHIPPER_TEST_FIXTURE_H_
#define SALLYPORT_AUDIT_SHIPPER_TEST_FIXTURE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "audit/recording_record.h"
#include "audit/recording_writer.h"
#include "audit/shipper.h"
#include "audit/spool.h"
#include "base/event_line.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::audit {

using sallyport::testing::TempDir;

inline constexpr char kGateway[] = "gw-a";

// The CA's side of an upload, in process: RecordingWriter over the Store.
// `reachable = false` answers like a CA that cannot be reached.
class WriterUploader : public RecordingUploader {
 public:
  explicit WriterUploader(storage::Store& store) : writer_(store) {}
  absl::StatusOr<v1::RecordingSession> Upload(
      const v1::RecordingSession& session, const NextBatch& next) override {
    ++calls;
    if (!reachable) return absl::UnavailableError("connection refused");
    ASSIGN_OR_RETURN(v1::RecordingSession s, writer_.Begin(kGateway, session));
    while (true) {
      std::vector<v1::RecordingRecord> batch;
      ASSIGN_OR_RETURN(bool more, next(batch));
      if (!more) break;
      max_batch = std::max(max_batch, batch.size());
      size_t bytes = 0;
      for (const auto& r : batch) bytes += r.ByteSizeLong();
      max_batch_bytes = std::max(max_batch_bytes, bytes);
      records_sent += batch.size();
      ASSIGN_OR_RETURN(s, writer_.Write(kGateway, session.session_id(), batch));
    }
    return s;
  }
  bool reachable = true;
  int calls = 0;
  size_t records_sent = 0;
  size_t max_batch = 0;
  size_t max_batch_bytes = 0;

 private:
  RecordingWriter writer_;
};

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TempDir> dir = TempDir::Create("shipper");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<TempDir>(*std::move(dir));
    spool_dir_ = dir_->File("spool");
    ASSERT_EQ(::mkdir(spool_dir_.c_str(), 0700), 0);
    auto store = storage::OpenStore("sqlite://" + dir_->path() + "/s.db");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    uploader_ = std::make_unique<WriterUploader>(*store_);
  }

  v1::RecordingSession Meta(const std::string& id) {
    v1::RecordingSession m;
    m.set_session_id(id);
    m.set_user("alice");
    m.set_login("ubuntu");
    m.set_host("web01");
    m.set_gateway_id(kGateway);
    m.set_started_at_us(1700000000000000);
    return m;
  }

  // Appends n data records (and an end when `end`) to a spool.
  void Append(SpoolWriter& w, RecordChainer& chain, int n, bool end,
              char fill = 'a') {
    std::string buffer;
    for (int i = 0; i < n + (end ? 1 : 0); ++i) {
      v1::RecordingRecord r;
      r.set_offset_us(1000 * static_cast<int64_t>(chain.last_seq() + 1));
      if (i < n) {
        r.mutable_data()->set_direction(v1::RECORD_DIRECTION_OUTPUT);
        r.mutable_data()->set_bytes(std::string(100, fill));
      } else {
        r.mutable_session_end()->set_status(v1::SESSION_STATUS_ENDED);
      }
      ASSERT_TRUE(chain.Append(r).ok());
      ASSERT_TRUE(SpoolWriter::EncodeFrame(r, buffer).ok());
    }
    ASSERT_TRUE(w.Write(buffer).ok());
  }

  std::unique_ptr<Shipper> StartShipper(ShipperOptions o = {}) {
    o.on_event = [this](std::string_view code,
                        const v1::RecordingSession& session,
                        const std::vector<base::LogField>& fields) {
      events_.push_back(absl::StrCat(std::string(code), " ",
                                     session.session_id(), " ", session.user(),
                                     " ", base::JsonObject(fields)));
    };
    o.spool_dir = spool_dir_;
    if (o.uploader == nullptr) o.uploader = uploader_.get();
    o.thread = false;
    o.now = [this] { return now_; };
    o.on_deleted = [this](int64_t n) { deleted_bytes_ += n; };
    absl::StatusOr<std::unique_ptr<Shipper>> s = Shipper::Start(std::move(o));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // The CA's audit events of `type` (the Store's log), as "ACTOR PAYLOAD"
  // with the payload's `at` (the CA's clock) left out.
  std::vector<std::string> StoredEvents(std::string_view type) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<storage::AuditEvent>> events =
        store_->ListAuditEvents(0, 1000);
    EXPECT_TRUE(events.ok()) << events.status();
    if (!events.ok()) return out;
    for (const storage::AuditEvent& e : *events) {
      if (e.type != type) continue;
      std::string payload = e.payload_json;
      const size_t at = payload.find(",\"at\":\"");
      if (at != std::string::npos) {
        payload.erase(at, payload.find('"', at + 7) + 1 - at);
      }
      out.push_back(absl::StrCat(e.actor, " ", payload));
    }
    return out;
  }

  bool Exists(const std::string& id) {
    return ::access(SpoolPath(spool_dir_, id).c_str(), F_OK) == 0;
  }

  std::unique_ptr<TempDir> dir_;
  std::string spool_dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<WriterUploader> uploader_;
  absl::Time now_ = absl::FromUnixSeconds(1800000000);
  int64_t deleted_bytes_ = 0;
  // The shipper's audit events: "CODE SESSION USER {fields}".
  std::vector<std::string> events_;
};

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_SHIPPER_TEST_FIXTURE_H_
