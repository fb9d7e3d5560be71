// A gateway identity revoked while its long calls are open: its recording
// upload writes nothing more and its revocation stream ends
// (PERMISSION_DENIED), whether this CA revoked it (`spctl revoke`) or
// another instance did (the revocation only in the Store); what the
// upload stored before stays.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "audit/events.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "proto/ca.grpc.pb.h"
#include "proto/gateway.grpc.pb.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;
namespace av1 = ::sallyport::audit::v1;
using grpc::StatusCode;

class OpenUpload;

class RevokedGatewayStreamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = MakeEnv();
    ASSERT_NE(env_, nullptr);
    gw_ = EnrollOrDie(*env_, "gw1");
    ASSERT_TRUE(gw_.status.ok()) << gw_.status.error_message();
    absl::StatusOr<ClientIdentity> id = env_->server().client_ca().Verify(
        gw_.response.tls_client_certificate_pem(), env_->clock().Now());
    ASSERT_TRUE(id.ok()) << id.status();
    serial_ = id->serial;
  }

  // As an administrator does (`spctl revoke --serial`): this CA revokes.
  void RevokeByAdmin() {
    auto admin = admin::v1::Admin::NewStub(AdminChannel(*env_));
    grpc::ClientContext ctx;
    admin::v1::RevokeRequest request;
    request.set_serial(serial_);
    request.set_reason("gateway compromised");
    admin::v1::RevokedEntry entry;
    grpc::Status st = admin->Revoke(&ctx, request, &entry);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  // As another CA instance does: the revocation is only in the Store.
  void RevokeInStore() {
    storage::Revocation r;
    r.serial = serial_;
    r.reason = "gateway compromised";
    r.revoked_by = "admin";
    ASSERT_TRUE(env_->store().Revoke(r).ok());
  }
  // RevokeInStore, then writes `chain` from `next` on, a record every
  // 20 ms, until the CA ends the upload: within 10 s (its revocation
  // poll), ended as revoked. Returns the index of the first record not
  // written.
  size_t RevokeInStoreAndWriteUntilEnded(
      OpenUpload& upload, const std::vector<av1::RecordingRecord>& chain,
      size_t next);
  // The session's records the Store holds.
  uint64_t Stored(const std::string& id) {
    absl::StatusOr<storage::Session> s = env_->store().GetSession(id);
    return s.ok() ? s->last_seq : 0;
  }
  // Waits (up to 30 s) until the Store holds `n` records of session `id`:
  // the upload is taken, its caller authenticated.
  uint64_t StoredWhenTaken(const std::string& id, uint64_t n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (Stored(id) != n && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return Stored(id);
  }

  std::unique_ptr<CaTestEnv> env_;
  EnrolledGateway gw_;
  uint64_t serial_ = 0;
};

// An upload a test writes message by message.
class OpenUpload {
 public:
  OpenUpload(const std::shared_ptr<grpc::Channel>& channel,
             const std::string& id)
      : stub_(pb::GatewayRecordings::NewStub(channel)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    writer_ = stub_->UploadRecording(&ctx_, &response_);
    pb::UploadRecordingRequest m;
    *m.mutable_session() = RecordingMeta(id);
    writer_->Write(m);
  }
  // False once the CA ended the upload.
  bool Write(const std::vector<av1::RecordingRecord>& records) {
    pb::UploadRecordingRequest m;
    for (const av1::RecordingRecord& r : records) *m.add_records() = r;
    return writer_->Write(m);
  }
  grpc::Status Finish() {
    writer_->WritesDone();
    return writer_->Finish();
  }

 private:
  std::unique_ptr<pb::GatewayRecordings::Stub> stub_;
  grpc::ClientContext ctx_;
  pb::UploadRecordingResponse response_;
  std::unique_ptr<grpc::ClientWriter<pb::UploadRecordingRequest>> writer_;
};

bool EndedAsRevoked(const grpc::Status& st) {
  return st.error_code() == StatusCode::PERMISSION_DENIED &&
         absl::StrContains(st.error_message(), "no longer authenticates") &&
         absl::StrContains(st.error_message(), "revoked");
}

size_t RevokedGatewayStreamsTest::RevokeInStoreAndWriteUntilEnded(
    OpenUpload& upload, const std::vector<av1::RecordingRecord>& chain,
    size_t next) {
  RevokeInStore();
  const absl::Time revoked = absl::Now();
  while (next < chain.size() && upload.Write({chain[next]}) &&
         absl::Now() - revoked < absl::Seconds(20)) {
    ++next;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_LT(absl::Now() - revoked, absl::Seconds(10));
  grpc::Status st = upload.Finish();
  EXPECT_TRUE(EndedAsRevoked(st))
      << st.error_code() << ": " << st.error_message();
  return next;
}

// Revoked by this CA: the next message of the open upload is refused, and
// the records stored before stay as they are.
TEST_F(RevokedGatewayStreamsTest, AnOpenUploadWritesNothingAfterTheRevocation) {
  const auto chain = RecordingChain("s1", 6, false);
  OpenUpload upload(gw_.channel, "s1");
  ASSERT_TRUE(upload.Write({chain.begin(), chain.begin() + 3}));
  ASSERT_EQ(StoredWhenTaken("s1", 3), 3u);
  RevokeByAdmin();
  upload.Write({chain.begin() + 3, chain.end()});
  grpc::Status st = upload.Finish();
  EXPECT_TRUE(EndedAsRevoked(st))
      << st.error_code() << ": " << st.error_message();
  EXPECT_EQ(Stored("s1"), 3u);
  EXPECT_EQ(CountAuditEvents(env_->store(), audit::kEventRecordingRefused,
                             {"gw1", "s1", "no longer authenticates"}),
            1);
}

// Revoked by another CA instance (the revocation only in the Store): the
// upload is ended within the CA's revocation poll, not when the gateway
// chooses to close it.
TEST_F(RevokedGatewayStreamsTest,
       AnOpenUploadEndsSoonAfterARevocationInTheStore) {
  const auto chain = RecordingChain("s2", 1000, false);
  OpenUpload upload(gw_.channel, "s2");
  ASSERT_TRUE(upload.Write({chain[0]}));
  // Taken before the revocation: otherwise the CA refuses the upload at
  // its start (UNAUTHENTICATED), as any new call of a revoked identity.
  ASSERT_EQ(StoredWhenTaken("s2", 1), 1u);
  const size_t next = RevokeInStoreAndWriteUntilEnded(upload, chain, 1);
  EXPECT_LT(Stored("s2"), next);
}

// The same after the CA's wall clock stepped back an hour (NTP after a VM
// resume, `date -s`) with the upload open: its re-check of the caller is
// due revocation_poll after the last one on the steady clock. On the wall
// clock the next one was an hour away, and the revoked gateway went on
// uploading for that hour.
TEST_F(RevokedGatewayStreamsTest,
       AnOpenUploadEndsSoonAfterARevocationInTheStoreAfterAClockStepBack) {
  if (!testing::InChildUnderFakeWallClock()) return;
  const auto chain = RecordingChain("s3", 1000, false);
  OpenUpload upload(gw_.channel, "s3");
  ASSERT_TRUE(upload.Write({chain[0]}));
  ASSERT_EQ(StoredWhenTaken("s3", 1), 1u);
  ASSERT_NO_FATAL_FAILURE(testing::SetWallClockInChild(-absl::Hours(1)));
  ASSERT_TRUE(upload.Write({chain[1]}));
  ASSERT_EQ(StoredWhenTaken("s3", 2), 2u);
  RevokeInStoreAndWriteUntilEnded(upload, chain, 2);
}

// The gateway's revocation stream, taken before (it delivered the
// revocation on record), ends once its own identity is revoked.
TEST_F(RevokedGatewayStreamsTest,
       ARevocationStreamEndsWhenItsGatewayIsRevoked) {
  ASSERT_TRUE(RevokeSerial4242(env_->store()).ok());
  auto ca = v1::CertificateAuthority::NewStub(gw_.channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  auto stream = ca->WatchRevocations(&ctx, {});
  v1::Revocation r;
  ASSERT_TRUE(stream->Read(&r));
  EXPECT_EQ(r.serial(), 4242u);
  RevokeByAdmin();
  while (stream->Read(&r)) {
  }
  grpc::Status st = stream->Finish();
  EXPECT_TRUE(EndedAsRevoked(st))
      << st.error_code() << ": " << st.error_message();
}

}  // namespace
}  // namespace sallyport::ca
