// Issue 14, "a gateway may only write events and recordings for its own
// sessions", against a real in-process CA over mTLS on SQLite and on a
// real PostgreSQL server (gateway_session_fixture.h), with two enrolled
// gateways: the gateway issued a session's certificate owns the session
// before it writes anything, so another gateway's events and recording
// of it are refused; a session another gateway wrote first gets no
// certificate (refused, audited with the owner, nothing recorded); the
// owner may ask again for its own session.
#include <grpcpp/grpcpp.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "audit/events.h"
#include "ca/gateway_session_fixture.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;

class SessionOwnerTest : public GatewaySessionTest {
 protected:
  void SetUp() override {
    GatewaySessionTest::SetUp();
    if (HasFatalFailure()) return;
    other_ = EnrollOrDie(*env_, "gw2");
    ASSERT_NE(other_.channel, nullptr);
  }

  int Count(std::string_view type,
            std::initializer_list<std::string_view> texts) {
    return CountAuditEvents(env_->store(), type, texts);
  }

  // Session certificates recorded with key id alice@`session`.
  int SessionCertificates(const std::string& session) {
    storage::CertificateFilter filter;
    filter.purpose = storage::CertificatePurpose::kSession;
    auto certs = env_->store().ListCertificates(filter);
    EXPECT_TRUE(certs.ok()) << certs.status();
    if (!certs.ok()) return -1;
    int n = 0;
    for (const auto& c : *certs) n += c.key_id == "alice@" + session;
    return n;
  }

  EnrolledGateway other_;  // gw2; the fixture's gateway_ is gw1
};

// (1) gw1 is issued the certificate of s-a and has written nothing of it:
// gw2 can neither write events of s-a nor upload a recording under it.
TEST_P(SessionOwnerTest, ACertifiedSessionIsTheGatewaysBeforeItWrites) {
  gw::IssueSessionCertificateResponse response;
  grpc::Status st =
      IssueSession(gateway_.channel, login_, "web01", &response, "s-a");
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_TRUE(absl::IsNotFound(env_->store().GetSession("s-a").status()));

  grpc::Status event = SendExecEvent(other_.channel, "s-a", "forged by gw2");
  EXPECT_EQ(event.error_code(), StatusCode::PERMISSION_DENIED)
      << event.error_message();
  EXPECT_EQ(Count(audit::kEventGatewayEventsRefused,
                  {"\"s-a\"", "\"gw2\"", "\"owner\":\"gw1\""}),
            1);
  EXPECT_EQ(Count("exec.command", {"forged by gw2"}), 0);
  gw::UploadRecordingResponse uploaded;
  grpc::Status upload =
      UploadRecording(other_.channel, RecordingMeta("s-a"),
                      {RecordingChain("s-a", 2, false)}, &uploaded);
  EXPECT_EQ(upload.error_code(), StatusCode::PERMISSION_DENIED)
      << upload.error_message();
  EXPECT_EQ(Count(audit::kEventRecordingRefused, {"\"s-a\"", "\"gw2\""}), 1);
  EXPECT_TRUE(absl::IsNotFound(env_->store().GetSession("s-a").status()));

  // The owner's own writes go on.
  grpc::Status own = SendExecEvent(gateway_.channel, "s-a", "uptime");
  EXPECT_TRUE(own.ok()) << own.error_message();
  // Naming the login certified (finding F).
  audit::v1::RecordingSession meta = RecordingMeta("s-a");
  meta.set_login(login_);
  own = UploadRecording(gateway_.channel, meta,
                        {RecordingChain("s-a", 2, false)}, &uploaded);
  ASSERT_TRUE(own.ok()) << own.error_message();
  EXPECT_EQ(env_->store().GetSession("s-a")->gateway_id, "gw1");
  EXPECT_EQ(uploaded.session().last_seq(), 2u);
}

// (2) gw2 wrote events of s-b first (and stored a recording of s-c): gw1
// gets no certificate for either; each refusal is an audit event naming
// gw2 as the owner, and no certificate is recorded.
TEST_P(SessionOwnerTest, ASessionAnotherGatewayWroteGetsNoCertificate) {
  grpc::Status wrote = SendExecEvent(other_.channel, "s-b", "whoami");
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();
  gw::UploadRecordingResponse uploaded;
  wrote = UploadRecording(other_.channel, RecordingMeta("s-c"),
                          {RecordingChain("s-c", 1, false)}, &uploaded);
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();

  for (const std::string id : {"s-b", "s-c"}) {
    gw::IssueSessionCertificateResponse response;
    grpc::Status st =
        IssueSession(gateway_.channel, login_, "web01", &response, id);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), "another gateway"))
        << st.error_message();
    EXPECT_FALSE(absl::StrContains(st.error_message(), "gw2"))
        << "the reason names the owner to another gateway";
    EXPECT_FALSE(response.has_certificate());
    EXPECT_EQ(Count(kEventCertRefused, {"\"" + id + "\"", "\"gateway\":\"gw1\"",
                                        "\"owner\":\"gw2\""}),
              1)
        << id;
    EXPECT_EQ(Count(kEventCertIssued, {"alice@" + id}), 0) << id;
    EXPECT_EQ(SessionCertificates(id), 0) << id;
  }
  // gw2, the owner, is issued them.
  gw::IssueSessionCertificateResponse response;
  grpc::Status st =
      IssueSession(other_.channel, login_, "web01", &response, "s-b");
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(SessionCertificates("s-b"), 1);
}

// (3) The same gateway asking again for its session (a retry, the
// recorded ProxyJump's inner session): every certificate is issued, and
// asking after writing the session's events works too.
TEST_P(SessionOwnerTest, TheOwnerIsIssuedItsSessionAgain) {
  std::vector<uint64_t> serials;
  for (int i = 0; i < 2; ++i) {
    gw::IssueSessionCertificateResponse response;
    grpc::Status st =
        IssueSession(gateway_.channel, login_, "web01", &response, "s-d");
    ASSERT_TRUE(st.ok()) << st.error_message();
    serials.push_back(response.certificate().serial());
  }
  EXPECT_NE(serials[0], serials[1]);
  EXPECT_EQ(SessionCertificates("s-d"), 2);
  EXPECT_EQ(Count(kEventCertRefused, {"\"s-d\""}), 0);

  grpc::Status wrote = SendExecEvent(gateway_.channel, "s-e", "id");
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();
  gw::IssueSessionCertificateResponse response;
  grpc::Status st =
      IssueSession(gateway_.channel, login_, "web01", &response, "s-e");
  EXPECT_TRUE(st.ok()) << st.error_message();
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(SessionOwnerTest);

}  // namespace
}  // namespace sallyport::ca
