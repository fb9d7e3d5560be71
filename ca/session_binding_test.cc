// Finding F, "the CA takes a recorded session's user and login on the
// gateway's word", against a real in-process CA over mTLS on SQLite and on
// a real PostgreSQL server (gateway_session_fixture.h): a session
// certificate issued for alice (with her userauth proof) binds its session
// to alice and the login, so its gateway cannot upload the session's
// recording naming bob or another login (refused, audited, nothing
// stored); the session's first certificate binds a session the gateway
// claimed before with an event; a session with no certificate is taken
// as the gateway names it, as before.
#include <grpcpp/grpcpp.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "ca/gateway_session_fixture.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;
namespace gw = gateway::v1;
namespace av1 = ::sallyport::audit::v1;

class SessionBindingTest : public GatewaySessionTest {
 protected:
  int Count(std::string_view type,
            std::initializer_list<std::string_view> texts) {
    return CountAuditEvents(env_->store(), type, texts);
  }

  // The metadata of `id` naming `user` and `login` on web01.
  av1::RecordingSession Meta(const std::string& id, const std::string& user,
                             const std::string& login) {
    av1::RecordingSession m = RecordingMeta(id);
    m.set_user(user);
    m.set_login(login);
    return m;
  }

  grpc::Status Upload(const av1::RecordingSession& meta) {
    gw::UploadRecordingResponse uploaded;
    return UploadRecording(gateway_.channel, meta,
                           {RecordingChain(meta.session_id(), 2, false)},
                           &uploaded);
  }

  void Certify(const std::string& id) {
    gw::IssueSessionCertificateResponse response;
    grpc::Status st =
        IssueSession(gateway_.channel, login_, "web01", &response, id);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
};

TEST_P(SessionBindingTest, ARecordingNamesTheUserAndLoginItWasCertifiedFor) {
  Certify("s1");
  // Bob's name, or alice under another login: refused, audited with the
  // reason, nothing stored.
  for (const auto& [user, login] :
       std::initializer_list<std::pair<std::string, std::string>>{
           {"bob", login_}, {"alice", "deploy"}}) {
    grpc::Status st = Upload(Meta("s1", user, login));
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    const std::string reason = absl::StrCat(
        "session 's1' was issued its certificate for user 'alice' login '",
        login_, "', not for user '", user, "' login '", login, "'");
    EXPECT_TRUE(absl::StrContains(st.error_message(), reason))
        << st.error_message();
    EXPECT_EQ(Count(audit::kEventRecordingRefused,
                    {"\"s1\"", "\"gateway\":\"gw1\"", reason}),
              1)
        << reason;
    EXPECT_TRUE(absl::IsNotFound(env_->store().GetSession("s1").status()));
  }
  // Alice's name and login: stored.
  grpc::Status st = Upload(Meta("s1", "alice", login_));
  ASSERT_TRUE(st.ok()) << st.error_message();
  absl::StatusOr<storage::Session> stored = env_->store().GetSession("s1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->user, "alice");
  EXPECT_EQ(stored->last_seq, 2u);
}

// The session's event came before its certificate: the certificate binds
// the session all the same.
TEST_P(SessionBindingTest, TheCertificateBindsASessionItsEventsClaimed) {
  grpc::Status wrote = SendExecEvent(gateway_.channel, "s2", "id");
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();
  Certify("s2");
  grpc::Status st = Upload(Meta("s2", "bob", login_));
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_EQ(Count(audit::kEventRecordingRefused, {"\"s2\"", "'bob'"}), 1);
  st = Upload(Meta("s2", "alice", login_));
  EXPECT_TRUE(st.ok()) << st.error_message();
}

// A session stored as bob's (without a certificate) gets no certificate
// for alice: refused with the reason, audited, nothing recorded.
TEST_P(SessionBindingTest, AStoredSessionOfAnotherUserGetsNoCertificate) {
  grpc::Status st = Upload(Meta("s4", "bob", login_));
  ASSERT_TRUE(st.ok()) << st.error_message();
  gw::IssueSessionCertificateResponse response;
  st = IssueSession(gateway_.channel, login_, "web01", &response, "s4");
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  const std::string reason =
      absl::StrCat("session 's4' is stored for user 'bob' login '", login_,
                   "', not for user 'alice' login '", login_, "'");
  EXPECT_TRUE(absl::StrContains(st.error_message(), reason))
      << st.error_message();
  EXPECT_FALSE(response.has_certificate());
  EXPECT_EQ(Count(kEventCertRefused, {"\"s4\"", reason}), 1);
  EXPECT_EQ(Count(kEventCertIssued, {"alice@s4"}), 0);
}

// A session without a certificate (its events only) is stored as the
// gateway names it, as before.
TEST_P(SessionBindingTest, ASessionWithoutACertificateIsNotChecked) {
  grpc::Status wrote = SendExecEvent(gateway_.channel, "s3", "id");
  ASSERT_TRUE(wrote.ok()) << wrote.error_message();
  grpc::Status st = Upload(Meta("s3", "bob", "deploy"));
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(env_->store().GetSession("s3")->user, "bob");
  EXPECT_EQ(Count(audit::kEventRecordingRefused, {"\"s3\""}), 0);
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(SessionBindingTest);

}  // namespace
}  // namespace sallyport::ca
