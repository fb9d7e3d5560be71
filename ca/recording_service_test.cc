// GatewayRecordings.UploadRecording (issue 14) against a real in-process CA
// over mTLS: a gateway uploads its session and learns where to resume; a
// re-sent record is accepted when identical and refused when altered; a
// user identity is refused; a gateway uploading another gateway's session
// is refused and audited; the per-message limits hold at the limit, and so
// do the uploads a gateway keeps open.
// GatewayEvents.RecordGatewayEvents with it: a session the Store does not
// know yet belongs to the first gateway that writes anything of it (an
// event or a recording), in either order; the other gateway is refused.
#include "ca/recording_service.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/recording_record.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;
namespace av1 = ::sallyport::audit::v1;

class RecordingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto env = CaTestEnv::Create();
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    gw_a_ = EnrollOrDie(*env_, "gw-a");
    gw_b_ = EnrollOrDie(*env_, "gw-b");
    ASSERT_TRUE(gw_a_.channel && gw_b_.channel);
  }

  // Audit events of `type` whose payload contains every one of `texts`.
  int AuditCount(std::string_view type,
                 std::initializer_list<std::string_view> texts) {
    return CountAuditEvents(env_->store(), type, texts);
  }

  bool AuditHas(std::string_view type, std::string_view text) {
    auto events = env_->store().ListAuditEvents(0, 10000);
    if (!events.ok()) return false;
    for (const auto& e : *events) {
      if (e.type == type && e.payload_json.find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<CaTestEnv> env_;
  EnrolledGateway gw_a_, gw_b_;
};

TEST_F(RecordingServiceTest, UploadsAndAnswersWhereToResume) {
  const auto records = RecordingChain("s1", 5, true);
  pb::UploadRecordingResponse r;
  // A session-only call: nothing stored yet.
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("s1"), {}, &r).ok());
  EXPECT_EQ(r.session().last_seq(), 0u);
  std::vector<av1::RecordingRecord> first(records.begin(), records.begin() + 3);
  ASSERT_TRUE(
      UploadRecording(gw_a_.channel, RecordingMeta("s1"), {first}, &r).ok());
  EXPECT_EQ(r.session().last_seq(), 3u);
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("s1"), {}, &r).ok());
  EXPECT_EQ(r.session().last_seq(), 3u);
  EXPECT_EQ(r.session().gateway_id(), "gw-a");
  // Re-sending everything: 1..3 are identical, 4..6 new.
  ASSERT_TRUE(
      UploadRecording(gw_a_.channel, RecordingMeta("s1"), {records}, &r).ok());
  EXPECT_EQ(r.session().last_seq(), 6u);
  EXPECT_EQ(r.session().status(), av1::SESSION_STATUS_ENDED);
  EXPECT_EQ(r.session().chain_head(), records.back().hash());
}

// A recording's session_start record must say the session's user, login,
// host and start as the upload's session does: one framing another user is
// refused loudly (DATA_LOSS and recording.refused naming the field), and
// nothing of it is stored.
TEST_F(RecordingServiceTest,
       ASessionStartThatDisagreesWithTheSessionIsRefused) {
  auto chain = [](const std::string& user) {
    audit::RecordChainer chainer("s-start");
    std::vector<av1::RecordingRecord> out(2);
    av1::SessionStartRecord* m = out[0].mutable_session_start();
    const av1::RecordingSession meta = RecordingMeta("s-start");
    m->set_user(user);
    m->set_login(meta.login());
    m->set_host(meta.host());
    m->set_started_at_us(meta.started_at_us());
    out[1].set_offset_us(1000);
    out[1].mutable_data()->set_bytes("hello");
    for (av1::RecordingRecord& r : out) EXPECT_TRUE(chainer.Append(r).ok());
    return out;
  };
  pb::UploadRecordingResponse r;
  grpc::Status framed = UploadRecording(gw_a_.channel, RecordingMeta("s-start"),
                                        {chain("mallory")}, &r);
  EXPECT_EQ(framed.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_NE(framed.error_message().find(
                "the session's user is \"alice\" but its recording says "
                "\"mallory\""),
            std::string::npos)
      << framed.error_message();
  EXPECT_TRUE(AuditHas(audit::kEventRecordingRefused, "mallory"));
  EXPECT_EQ(env_->store().GetSession("s-start")->last_seq, 0u);
  // The same recording saying the session's own user is stored.
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("s-start"),
                              {chain("alice")}, &r)
                  .ok());
  EXPECT_EQ(r.session().last_seq(), 2u);
}

// Found in review: a session's id, user, login and host were stored as the
// upload gave them (any text but NUL) and printed as stored by `spctl
// sessions ls`, `verify` and `play`: an id ending in ESC [8m made
// `verify` show a fake OK. The upload's session id is a simple name (as
// IssueSessionCertificate takes it), its login and host are a login and a
// host name; nothing of a refused upload is stored.
TEST_F(RecordingServiceTest, SessionMetadataWithControlsIsRefused) {
  struct Case {
    std::string field, value;
  };
  const std::vector<Case> cases = {
      {"session_id", "7f3a: OK, 5 records, hash chain intact\x1b[8m"},
      {"session_id", "s\xe2\x80\xae"},
      {"session_id", std::string(65, 'a')},
      {"user", "alice\x1b]52;c;eA==\x07"},
      {"user", "alice\xc2\x9b"},
      {"login", "ubuntu\x1b[8m"},
      {"login", "-oProxyCommand"},
      {"host", "web01\r\nFAKE"},
      {"host",
       "web\xe2\x80\xae"
       "01"},
  };
  int n = 0;
  for (const Case& c : cases) {
    av1::RecordingSession meta = RecordingMeta(absl::StrCat("s-bad-", n++));
    if (c.field == "session_id") meta.set_session_id(c.value);
    if (c.field == "user") meta.set_user(c.value);
    if (c.field == "login") meta.set_login(c.value);
    if (c.field == "host") meta.set_host(c.value);
    pb::UploadRecordingResponse r;
    grpc::Status st = UploadRecording(
        gw_a_.channel, meta, {RecordingChain(meta.session_id(), 2, true)}, &r);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << c.field << ": " << st.error_message();
    EXPECT_EQ(st.error_message().find('\x1b'), std::string::npos)
        << st.error_message();
    EXPECT_TRUE(
        absl::IsNotFound(env_->store().GetSession(meta.session_id()).status()))
        << c.field;
  }
  // The same upload with plain metadata is stored.
  pb::UploadRecordingResponse r;
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("s-plain"),
                              {RecordingChain("s-plain", 2, true)}, &r)
                  .ok());
}

TEST_F(RecordingServiceTest, AlteredReshipmentAndGapsAreRefused) {
  pb::UploadRecordingResponse r;
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("s2"),
                              {RecordingChain("s2", 3, false)}, &r)
                  .ok());
  // The same seqs with other bytes (a valid chain of its own).
  grpc::Status altered =
      UploadRecording(gw_a_.channel, RecordingMeta("s2"),
                      {RecordingChain("s2", 4, false, 'x')}, &r);
  EXPECT_FALSE(altered.ok());
  auto s = env_->store().GetSession("s2");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->last_seq, 3u);
  // A stored record sent again with other content under its old hash:
  // refused loudly (DATA_LOSS and an audit event), not skipped.
  EXPECT_FALSE(AuditHas(audit::kEventRecordingRefused, "\"s2\""));
  auto same = RecordingChain("s2", 3, false);
  same[1].mutable_data()->set_bytes("altered");
  grpc::Status sneaky =
      UploadRecording(gw_a_.channel, RecordingMeta("s2"), {same}, &r);
  EXPECT_EQ(sneaky.error_code(), grpc::StatusCode::DATA_LOSS)
      << sneaky.error_message();
  EXPECT_TRUE(AuditHas(audit::kEventRecordingRefused, "\"s2\""));
  // A gap: record 5 after 3.
  const auto more = RecordingChain("s2", 5, false);
  grpc::Status gap =
      UploadRecording(gw_a_.channel, RecordingMeta("s2"), {{more[4]}}, &r);
  EXPECT_EQ(gap.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << gap.error_message();
}

TEST_F(RecordingServiceTest, UserIdentityIsRefused) {
  ASSERT_TRUE(env_->AddRole("dev", {"ubuntu"}).ok());
  ASSERT_TRUE(env_->AddUser("alice", "pw-of-alice", {"dev"}).ok());
  auto login = env_->Login("alice", "pw-of-alice");
  ASSERT_TRUE(login.status.ok()) << login.status.error_message();
  pb::UploadRecordingResponse r;
  grpc::Status st = UploadRecording(login.channel, RecordingMeta("s3"),
                                    {RecordingChain("s3", 1, false)}, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::IsNotFound(env_->store().GetSession("s3").status()));
  // And without a client certificate.
  st = UploadRecording(env_->AnonymousChannel(), RecordingMeta("s3"), {}, &r);
  EXPECT_FALSE(st.ok());
}

TEST_F(RecordingServiceTest, AnotherGatewaysSessionIsRefusedAndAudited) {
  pb::UploadRecordingResponse r;
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("owned"),
                              {RecordingChain("owned", 2, false)}, &r)
                  .ok());
  EXPECT_FALSE(AuditHas(audit::kEventRecordingRefused, "owned"));
  // gw-b asks where it stands, and tries to write.
  grpc::Status ask =
      UploadRecording(gw_b_.channel, RecordingMeta("owned"), {}, &r);
  EXPECT_EQ(ask.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::Status write = UploadRecording(gw_b_.channel, RecordingMeta("owned"),
                                       {RecordingChain("owned", 3, false)}, &r);
  EXPECT_EQ(write.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(AuditHas(audit::kEventRecordingRefused, "owned"));
  EXPECT_TRUE(AuditHas(audit::kEventRecordingRefused, "gw-b"));
  EXPECT_EQ(env_->store().GetSession("owned")->last_seq, 2u);
  EXPECT_EQ(env_->store().GetSession("owned")->gateway_id, "gw-a");
}

TEST_F(RecordingServiceTest, RecordsPerMessageAtTheLimit) {
  const int n = RecordingService::kMaxRecordsPerMessage;
  const auto records = RecordingChain("lim", n + 1, false);
  pb::UploadRecordingResponse r;
  std::vector<av1::RecordingRecord> at(records.begin(), records.begin() + n);
  ASSERT_TRUE(
      UploadRecording(gw_a_.channel, RecordingMeta("lim"), {at}, &r).ok());
  EXPECT_EQ(r.session().last_seq(), static_cast<uint64_t>(n));
  // n + 1 in one message: refused, nothing of it stored.
  const auto over_records = RecordingChain("lim2", n + 1, false);
  grpc::Status over =
      UploadRecording(gw_a_.channel, RecordingMeta("lim2"), {over_records}, &r);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << over.error_message();
  auto s = env_->store().GetSession("lim2");
  EXPECT_TRUE(!s.ok() || s->last_seq == 0);
}

TEST_F(RecordingServiceTest, MessageBytesAtTheLimit) {
  // Records of 100 KiB: 9 fit in 1 MiB, 11 do not.
  const auto records = RecordingChain("big", 11, false, 'b', 100 << 10);
  pb::UploadRecordingResponse r;
  std::vector<av1::RecordingRecord> nine(records.begin(), records.begin() + 9);
  ASSERT_TRUE(
      UploadRecording(gw_a_.channel, RecordingMeta("big"), {nine}, &r).ok());
  EXPECT_EQ(r.session().last_seq(), 9u);
  const auto big2 = RecordingChain("big2", 11, false, 'b', 100 << 10);
  grpc::Status over =
      UploadRecording(gw_a_.channel, RecordingMeta("big2"), {big2}, &r);
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << over.error_message();
  auto s = env_->store().GetSession("big2");
  EXPECT_TRUE(!s.ok() || s->last_seq == 0);
}

// An upload a test keeps open: its session sent, then nothing (a stalled
// shipper, or one that opens uploads to hold the CA's threads).
class HeldUpload {
 public:
  HeldUpload(const std::shared_ptr<grpc::Channel>& channel,
             const std::string& session_id)
      : stub_(pb::GatewayRecordings::NewStub(channel)) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    writer_ = stub_->UploadRecording(&ctx_, &response_);
    pb::UploadRecordingRequest m;
    *m.mutable_session() = RecordingMeta(session_id);
    writer_->Write(m);
  }
  ~HeldUpload() {
    if (writer_ != nullptr) Finish();
  }
  grpc::Status Finish() {
    writer_->WritesDone();
    grpc::Status st = writer_->Finish();
    writer_.reset();
    return st;
  }

 private:
  std::unique_ptr<pb::GatewayRecordings::Stub> stub_;
  grpc::ClientContext ctx_;
  pb::UploadRecordingResponse response_;
  std::unique_ptr<grpc::ClientWriter<pb::UploadRecordingRequest>> writer_;
};

// Waits until the CA has taken the first message of every held upload
// (its session is in the Store): on a loaded machine the streams may reach
// the CA's handlers seconds after they were opened, and an upload probing
// the limit before then is rightly accepted.
bool HeldUploadsTaken(storage::Store& store,
                      const std::vector<std::string>& ids) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  for (const std::string& id : ids) {
    while (!store.GetSession(id).ok()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  return true;
}

// Uploads on `channel` until one is refused (the held ones reach the CA
// first): that refusal, or OK when none came within 10 s.
grpc::Status UploadUntilRefused(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& session_id) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  pb::UploadRecordingResponse r;
  grpc::Status st;
  do {
    st = UploadRecording(channel, RecordingMeta(session_id), {}, &r);
  } while (st.ok() && absl::Now() < deadline);
  return st;
}

// An upload holds a CA handler thread while it is open, whether its
// gateway sends or not: a gateway that opened uploads and stalled them
// took every thread (CaServer::kMaxThreads), and the other gateways'
// AuthorizeChannel calls and every login were refused. A gateway keeps
// kMaxGatewayStreamsPerGateway uploads and revocation streams open, on any
// connections; the next is refused at once with the reason, and another
// gateway still uploads.
TEST_F(RecordingServiceTest, OpenUploadsPerGatewayAtTheLimit) {
  // Its revocation stream and the rest uploads, on one connection: the
  // gateway's limit fills it (CaServer::kMaxConcurrentStreamsPerConnection).
  grpc::ClientContext watch_ctx;
  auto watch = v1::CertificateAuthority::NewStub(gw_a_.channel)
                   ->WatchRevocations(&watch_ctx, {});
  std::vector<std::unique_ptr<HeldUpload>> held;
  std::vector<std::string> ids;
  for (int i = 1; i < kMaxGatewayStreamsPerGateway; ++i) {
    ids.push_back(absl::StrCat("held-a", i));
    held.push_back(std::make_unique<HeldUpload>(gw_a_.channel, ids.back()));
  }
  ASSERT_TRUE(HeldUploadsTaken(env_->store(), ids));
  const auto again = env_->ClientChannel(
      gw_a_.tls_key_pem, gw_a_.response.tls_client_certificate_pem());
  grpc::Status over = UploadUntilRefused(again, "over-a");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << over.error_message();
  EXPECT_NE(over.error_message().find("for a gateway"), std::string::npos)
      << over.error_message();
  pb::UploadRecordingResponse r;
  EXPECT_TRUE(UploadRecording(gw_b_.channel, RecordingMeta("b1"),
                              {RecordingChain("b1", 2, false)}, &r)
                  .ok());
  // An upload that ends gives its place back.
  EXPECT_TRUE(held.front()->Finish().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  grpc::Status accepted;
  do {
    accepted = UploadRecording(again, RecordingMeta("again-a"), {}, &r);
  } while (!accepted.ok() && absl::Now() < deadline);
  EXPECT_TRUE(accepted.ok()) << accepted.error_message();
  watch_ctx.TryCancel();
  watch->Finish();
}

TEST_F(RecordingServiceTest, OpenUploadsOfAllGatewaysAtTheLimit) {
  std::vector<std::unique_ptr<HeldUpload>> held;
  std::vector<std::string> ids;
  for (int g = 0; g < kMaxGatewayStreams / kMaxGatewayStreamsPerGateway; ++g) {
    EnrolledGateway gw = EnrollOrDie(*env_, absl::StrCat("gw-held", g));
    ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
    for (int i = 0; i < kMaxGatewayStreamsPerGateway; ++i) {
      ids.push_back(absl::StrCat("held", g, "-", i));
      held.push_back(std::make_unique<HeldUpload>(gw.channel, ids.back()));
    }
  }
  ASSERT_TRUE(HeldUploadsTaken(env_->store(), ids));
  grpc::Status over = UploadUntilRefused(gw_a_.channel, "over-all");
  EXPECT_EQ(over.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << over.error_message();
  EXPECT_NE(over.error_message().find("for all gateways"), std::string::npos)
      << over.error_message();
}

// A session the Store does not know yet: gw-a writes first (events, then
// its recording); gw-b is refused for events and for the recording, and
// each refusal is an audit event naming gw-a as the owner.
TEST_F(RecordingServiceTest, FirstGatewayToWriteEventsOwnsAnUnknownSession) {
  ASSERT_TRUE(absl::IsNotFound(env_->store().GetSession("new-a").status()));
  grpc::Status a = SendExecEvent(gw_a_.channel, "new-a", "uptime");
  ASSERT_TRUE(a.ok()) << a.error_message();
  grpc::Status b = SendExecEvent(gw_b_.channel, "new-a", "forged by b");
  EXPECT_EQ(b.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << b.error_message();
  EXPECT_EQ(AuditCount(audit::kEventGatewayEventsRefused,
                       {"\"new-a\"", "\"gw-b\"", "\"owner\":\"gw-a\""}),
            1);
  EXPECT_EQ(AuditCount("exec.command", {"forged by b"}), 0);
  pb::UploadRecordingResponse r;
  grpc::Status steal = UploadRecording(gw_b_.channel, RecordingMeta("new-a"),
                                       {RecordingChain("new-a", 2, false)}, &r);
  EXPECT_EQ(steal.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << steal.error_message();
  EXPECT_EQ(
      AuditCount(audit::kEventRecordingRefused, {"\"new-a\"", "\"gw-b\""}), 1);
  EXPECT_TRUE(absl::IsNotFound(env_->store().GetSession("new-a").status()));
  // The owner's recording and events go on.
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("new-a"),
                              {RecordingChain("new-a", 2, false)}, &r)
                  .ok());
  EXPECT_EQ(env_->store().GetSession("new-a")->gateway_id, "gw-a");
  EXPECT_TRUE(SendExecEvent(gw_a_.channel, "new-a", "id").ok());
  EXPECT_EQ(AuditCount("exec.command", {"\"new-a\"", "\"gw-a\""}), 2);
}

// The other order: gw-b writes an event of an id first; the id is then
// gw-b's, so gw-a can neither add events nor a recording under it (never
// two gateways' writes in one session), and gw-b's own writes go on.
TEST_F(RecordingServiceTest, AGatewayCannotJoinASessionAnotherClaimedFirst) {
  grpc::Status b = SendExecEvent(gw_b_.channel, "new-b", "whoami");
  ASSERT_TRUE(b.ok()) << b.error_message();
  grpc::Status a = SendExecEvent(gw_a_.channel, "new-b", "uptime");
  EXPECT_EQ(a.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << a.error_message();
  pb::UploadRecordingResponse r;
  grpc::Status upload =
      UploadRecording(gw_a_.channel, RecordingMeta("new-b"),
                      {RecordingChain("new-b", 1, false)}, &r);
  EXPECT_EQ(upload.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << upload.error_message();
  EXPECT_EQ(AuditCount(audit::kEventGatewayEventsRefused,
                       {"\"new-b\"", "\"gw-a\"", "\"owner\":\"gw-b\""}),
            1);
  EXPECT_EQ(
      AuditCount(audit::kEventRecordingRefused, {"\"new-b\"", "\"gw-a\""}), 1);
  EXPECT_TRUE(absl::IsNotFound(env_->store().GetSession("new-b").status()));
  ASSERT_TRUE(UploadRecording(gw_b_.channel, RecordingMeta("new-b"),
                              {RecordingChain("new-b", 1, false)}, &r)
                  .ok());
  EXPECT_EQ(env_->store().GetSession("new-b")->gateway_id, "gw-b");
  // A recording shipped first owns the id for events too.
  ASSERT_TRUE(UploadRecording(gw_a_.channel, RecordingMeta("rec-a"),
                              {RecordingChain("rec-a", 1, false)}, &r)
                  .ok());
  grpc::Status late = SendExecEvent(gw_b_.channel, "rec-a", "late");
  EXPECT_EQ(late.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << late.error_message();
  EXPECT_EQ(AuditCount("exec.command", {"\"gw-a\""}), 0);
  EXPECT_EQ(AuditCount("exec.command", {"\"gw-b\""}), 1);
}

}  // namespace
}  // namespace sallyport::ca
