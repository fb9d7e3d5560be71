// Finding F, "the CA takes a recorded session's user and login on the
// gateway's word", against a real in-process CA over mTLS on SQLite and on
// a real PostgreSQL server (gateway_session_fixture.h): a session
// certificate issued for alice (with her userauth proof) binds its session
// to alice and the login, so its gateway cannot upload the session's
// recording naming bob or another login (refused, audited, nothing
// stored), nor send its events naming another user or login (the
// request refused, audited as gateway.events.refused, nothing appended;
// a refused login naming whoever was tried is no such event); the
// session's first certificate binds a session the gateway claimed before
// with an event; a session with no certificate is taken as the gateway
// names it, as before.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

  // Adds an event of `type` for session `id` naming `user`, with a
  // `login` field when `login` is set and a `mark` field to find it by.
  static void AddEvent(gw::RecordGatewayEventsRequest& request,
                       std::string_view type, const std::string& id,
                       const std::string& user,
                       const std::optional<std::string>& login,
                       const std::string& mark) {
    gw::GatewayEvent* e = request.add_events();
    e->set_type(std::string(type));
    e->set_session_id(id);
    e->set_user(user);
    e->mutable_at()->set_seconds(1700000000);
    if (login.has_value()) {
      gw::GatewayEventField* f = e->add_fields();
      f->set_name("login");
      f->set_text(*login);
    }
    gw::GatewayEventField* f = e->add_fields();
    f->set_name("mark");
    f->set_text(mark);
  }

  grpc::Status Send(const gw::RecordGatewayEventsRequest& request) {
    gw::RecordGatewayEventsResponse response;
    grpc::ClientContext ctx;
    return gw::GatewayEvents::NewStub(gateway_.channel)
        ->RecordGatewayEvents(&ctx, request, &response);
  }

  // The events of `type` marked `mark`.
  int Marked(std::string_view type, const std::string& mark) {
    return Count(type, {absl::StrCat("\"mark\":\"", mark, "\"")});
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

// The events of a session bound to alice and the login name them: an
// event naming bob, another login, or no user is refused with its request
// (nothing of it appended) and audited with what it claimed.
TEST_P(SessionBindingTest, ABoundSessionsEventsNameItsUserAndLogin) {
  Certify("e1");
  struct Lie {
    std::string user;
    std::optional<std::string> login;
    std::string says;  // how the reason names it
  };
  const std::vector<Lie> lies = {
      {"bob", std::nullopt, "not for user \"bob\" (event exec.command)"},
      {"bob", login_,
       absl::StrCat("not for user \"bob\" login \"", login_,
                    "\" (event exec.command)")},
      {"alice", "deploy",
       "not for user \"alice\" login \"deploy\" (event exec.command)"},
      {"", std::nullopt, "not for user \"\" (event exec.command)"}};
  for (size_t i = 0; i < lies.size(); ++i) {
    const Lie& lie = lies[i];
    const std::string honest = absl::StrCat("honest-", i);
    const std::string lying = absl::StrCat("lie-", i);
    gw::RecordGatewayEventsRequest request;
    AddEvent(request, "exec.command", "e1", "alice", login_, honest);
    AddEvent(request, "exec.command", "e1", lie.user, lie.login, lying);
    grpc::Status st = Send(request);
    EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
        << st.error_message();
    const std::string reason = absl::StrCat(
        "session \"e1\" was issued its certificate for user \"alice\" login "
        "\"",
        login_, "\", ", lie.says);
    EXPECT_TRUE(absl::StrContains(st.error_message(), reason))
        << st.error_message();
    EXPECT_EQ(Count(audit::kEventGatewayEventsRefused,
                    {"\"session_id\":\"e1\"", "\"gateway\":\"gw1\"",
                     "\"event\":\"exec.command\"",
                     absl::StrCat("\"claimed_user\":\"", lie.user, "\""),
                     "\"bound_user\":\"alice\"",
                     absl::StrCat("\"bound_login\":\"", login_, "\"")}),
              std::count_if(lies.begin(), lies.begin() + i + 1,
                            [&](const Lie& l) { return l.user == lie.user; }))
        << reason;
    EXPECT_EQ(Marked("exec.command", honest), 0);
    EXPECT_EQ(Marked("exec.command", lying), 0);
    // Sent alone (as the gateway's sender does after a refusal), the
    // honest event is appended.
    gw::RecordGatewayEventsRequest alone;
    AddEvent(alone, "exec.command", "e1", "alice", login_, honest);
    st = Send(alone);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(Marked("exec.command", honest), 1);
  }
  EXPECT_EQ(Count(audit::kEventGatewayEventsRefused,
                  {"\"claimed_login\":\"deploy\""}),
            1);
}

// An honest connection: bob's certificate was tried first and refused
// (session.refused names bob), then alice logged in. The whole request is
// appended, bob's refusal as sent.
TEST_P(SessionBindingTest, AnHonestConnectionsEventsAreAppendedInFull) {
  Certify("e2");
  gw::RecordGatewayEventsRequest request;
  AddEvent(request, audit::kEventSessionRefused, "e2", "bob", login_, "m0");
  AddEvent(request, audit::kEventSessionStart, "e2", "alice", login_, "m1");
  AddEvent(request, audit::kEventChannelOpen, "e2", "alice", login_, "m2");
  AddEvent(request, audit::kEventExecCommand, "e2", "alice", login_, "m3");
  AddEvent(request, audit::kEventFileTransferStart, "e2", "alice", login_,
           "m4");
  AddEvent(request, audit::kEventChannelClose, "e2", "alice", std::nullopt,
           "m5");
  AddEvent(request, audit::kEventSessionEnd, "e2", "alice", std::nullopt, "m6");
  grpc::Status st = Send(request);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count(audit::kEventSessionRefused,
                  {"\"e2\"", "\"user\":\"bob\"", "\"mark\":\"m0\""}),
            1);
  for (int i = 1; i < request.events_size(); ++i) {
    EXPECT_EQ(Count(request.events(i).type(),
                    {"\"e2\"", "\"user\":\"alice\"",
                     absl::StrCat("\"mark\":\"m", i, "\"")}),
              1)
        << request.events(i).type();
  }
  EXPECT_EQ(Count(audit::kEventGatewayEventsRefused, {"\"e2\""}), 0);
}

// A session no certificate bound is taken as its gateway names it: its
// events may name anyone until the first certificate binds it, and those
// stay appended.
TEST_P(SessionBindingTest, AnUnboundSessionsEventsAreTakenAsSent) {
  gw::RecordGatewayEventsRequest before;
  AddEvent(before, "exec.command", "e3", "bob", "deploy", "before");
  grpc::Status st = Send(before);
  ASSERT_TRUE(st.ok()) << st.error_message();
  Certify("e3");
  gw::RecordGatewayEventsRequest after;
  AddEvent(after, "exec.command", "e3", "bob", "deploy", "after");
  st = Send(after);
  EXPECT_EQ(st.error_code(), StatusCode::PERMISSION_DENIED)
      << st.error_message();
  EXPECT_EQ(Marked("exec.command", "before"), 1);
  EXPECT_EQ(Marked("exec.command", "after"), 0);
  EXPECT_EQ(Count(audit::kEventGatewayEventsRefused,
                  {"\"e3\"", "\"claimed_user\":\"bob\""}),
            1);
}

SP_INSTANTIATE_ON_BOTH_BACKENDS(SessionBindingTest);

}  // namespace
}  // namespace sallyport::ca
